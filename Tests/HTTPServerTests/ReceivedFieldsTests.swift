@testable import HTTPServer
import Testing

/// Header fields the parser keeps as received bytes must read exactly as the strings it used to make
/// of every field at once (`String(decoding:)` of the name and of the value without its OWS).
@Suite struct ReceivedFieldsTests {
    /// A small deterministic generator, so a failure reproduces.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let tchars = Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    static let names = ["Host", "Authorization", "X-Request-ID", "Accept", "x-multi", "X-MULTI", "Cookie", "a"]

    /// A random field: a known name in random case or a random token, a value of visible ASCII,
    /// spaces, tabs and bytes ≥ 0x80 (invalid UTF-8 included), with optional whitespace around it.
    static func field(_ g: inout Generator) -> (name: [UInt8], value: [UInt8], line: [UInt8]) {
        var name: [UInt8]
        if g.below(3) > 0 {
            let isLetter = { (b: UInt8) in (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
            name = Array(names[g.below(names.count)].utf8).map { isLetter($0) && g.below(2) == 0 ? $0 ^ 0x20 : $0 }
        } else {
            name = (0...g.below(12)).map { _ in tchars[g.below(tchars.count)] }
        }
        let value: [UInt8] = (0..<g.below(40)).map { _ in
            switch g.below(10) {
            case 0: 0x20
            case 1: 0x09
            case 2: UInt8(0x80 + g.below(0x80))
            default: UInt8(0x21 + g.below(0x5E))
            }
        }
        var trimmed = value[...]
        while let f = trimmed.first, f == 0x20 || f == 0x09 { trimmed.removeFirst() }
        while let l = trimmed.last, l == 0x20 || l == 0x09 { trimmed.removeLast() }
        let before = Array(repeating: UInt8(0x20), count: g.below(3)), after = Array(repeating: UInt8(0x09), count: g.below(2))
        return (name, Array(trimmed), name + [0x3A] + before + value + after)
    }

    static func parse(_ bytes: [UInt8]) throws -> HTTPRequest {
        var parser = HTTPParser()
        parser.feed(bytes)
        guard case .request(let request)? = try parser.next() else { throw HTTPServerError("no request") }
        return request
    }

    @Test func receivedFields_readAsTheEagerStrings_onRandomHeads() throws {
        var g = Generator(state: 0x5eed)
        for _ in 0..<500 {
            var head = Array("GET / HTTP/1.1\r\nHost: h\r\n".utf8)
            var eager = HTTPHeaders([("Host", "h")])
            var rawValues: [(name: [UInt8], value: [UInt8])] = [(Array("Host".utf8), Array("h".utf8))]
            for _ in 0..<g.below(12) {
                var field = Self.field(&g)
                // A second Host is a 400; keep this test about fields that parse.
                if HTTPHeaders.same(String(decoding: field.name, as: UTF8.self), "host") { field = (Array("x-host".utf8), field.value, Array("x-host".utf8) + field.line[4...]) }
                head += field.line + [0x0D, 0x0A]
                eager.add(name: String(decoding: field.name, as: UTF8.self), value: String(decoding: field.value, as: UTF8.self))
                rawValues.append((field.name, field.value))
            }
            let lazy = try Self.parse(head + [0x0D, 0x0A]).headers

            #expect(lazy.count == eager.count)
            #expect(lazy.fields.map { "\($0.name)\u{0}\($0.value)" } == eager.fields.map { "\($0.name)\u{0}\($0.value)" })
            #expect(lazy.description == eager.description)
            for (rawName, _) in rawValues + [(Array("absent".utf8), [])] {
                for name in [String(decoding: rawName, as: UTF8.self), String(decoding: rawName, as: UTF8.self).uppercased()] {
                    #expect(lazy[name] == eager[name])
                    #expect(lazy.values(for: name) == eager.values(for: name))
                    #expect(lazy.contains(name) == eager.contains(name))
                    let first = rawValues.first { HTTPHeaders.same(String(decoding: $0.name, as: UTF8.self), name) }?.value
                    #expect(lazy.withFirstValue(of: name) { $0.map(Array.init) } == first, "the received bytes, unrepaired")
                }
            }
            // The fields the parser notes as they arrive read as the same lookup by name.
            for known in [KnownField.authorization, .requestID] {
                #expect(lazy.firstValue(of: known) == eager[known.name])
                let first = rawValues.first { HTTPHeaders.same(String(decoding: $0.name, as: UTF8.self), known.name) }?.value
                #expect(lazy.withFirstValue(of: known) { $0.map(Array.init) } == first)
                #expect(eager.withFirstValue(of: known) { $0.map(Array.init) } == eager[known.name].map { Array($0.utf8) })
            }
            // Every change leaves the same fields as the same change to the eager headers.
            var changedLazy = lazy, changedEager = eager
            let name = String(decoding: rawValues[g.below(rawValues.count)].name, as: UTF8.self)
            switch g.below(3) {
            case 0: changedLazy.add(name: name, value: "added"); changedEager.add(name: name, value: "added")
            case 1: changedLazy.remove(name: name); changedEager.remove(name: name)
            default: changedLazy[name] = "set"; changedEager[name] = "set"
            }
            #expect(changedLazy.fields.map { "\($0.name)\u{0}\($0.value)" } == changedEager.fields.map { "\($0.name)\u{0}\($0.value)" })
            #expect(changedLazy[name] == changedEager[name])
            #expect(lazy.fields.map(\.value) == eager.fields.map(\.value), "a copy's change leaves the original as it was")
        }
    }

    @Test func wordAtATimeNameCompare_agreesWithTheByteByByteRule() {
        // Pairs that differ, if at all, mostly in the 0x20 bit: of letters (same name) and of
        // '@'/'`', '['/'{', '-'/'\r', digits and bytes of 0x80 or above (different names).
        let alphabet = Array("aAzZmM-09@`[{_~".utf8) + [0x0D, 0x10, 0xC1, 0xE1, 0xFF, 0xDF]
        var g = Generator(state: 0xc0ffee)
        for _ in 0..<50_000 {
            let count = g.below(25)
            let x: [UInt8] = (0..<count).map { _ in alphabet[g.below(alphabet.count)] }
            let y: [UInt8] = x.map { byte in
                switch g.below(8) {
                case 0: byte ^ 0x20
                case 1: alphabet[g.below(alphabet.count)]
                default: byte
                }
            }
            x.withUnsafeBufferPointer { a in
                y.withUnsafeBufferPointer { b in
                    #expect(HTTPHeaders.sameName(a, b) == HTTPHeaders.sameNameByBytes(a, b), "\(x) \(y)")
                }
            }
        }
    }

    @Test func receivedFields_areThoseOfEachRequest_onAKeepAliveConnection() throws {
        var parser = HTTPParser()
        parser.feed(Array("GET /a HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer one\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n".utf8))
        guard case .request(let first)? = try parser.next(), case .request(let second)? = try parser.next() else {
            Issue.record("expected two requests")
            return
        }
        #expect(first.headers.fields.map(\.value) == ["a", "Bearer one"])
        #expect(second.headers.fields.map(\.value) == ["b"])
        #expect(second.headers["authorization"] == nil)
    }

    @Test func headersBuiltInCode_answerWithFirstValue_fromTheirStrings() {
        let headers: HTTPHeaders = [("Authorization", "Bearer é"), ("authorization", "second")]
        #expect(headers.withFirstValue(of: "AUTHORIZATION") { $0.map(Array.init) } == Array("Bearer é".utf8))
        #expect(headers.withFirstValue(of: "missing") { $0 == nil })
    }
}
