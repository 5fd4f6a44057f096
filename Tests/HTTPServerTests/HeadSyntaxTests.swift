@testable import HTTPServer
import Testing

@Suite struct HeadSyntaxTests {
    @Test func wordAtATimeValueCheck_findsTheSameByte_asTheByteByByteRule() {
        let alphabet: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x41, 0x7E, 0x7F, 0x80, 0x9F, 0xFF]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &generator)
            // Mostly plain bytes, so refused ones land anywhere in long clean runs.
            let bytes = (0..<count).map { _ in Int.random(in: 0..<8, using: &generator) == 0 ? alphabet.randomElement()! : 0x61 }
            let start = count == 0 ? 0 : Int.random(in: 0...count, using: &generator)
            let expected = (start..<count).first { !HeadSyntax.isFieldValueByte(bytes[$0]) }
            bytes.withUnsafeBufferPointer { line in
                #expect(HeadSyntax.firstNonFieldValueByte(line, from: start, to: count) == expected, "\(bytes) from \(start)")
            }
        }
    }

    @Test func wordAtATimeTokenScan_stopsAtTheSameByte_asTheByteByByteRule() {
        // Name bytes (letters, digits, '-') mostly, and near-misses of the word ranges: '@', '[',
        // '`', '{', '/', ':', ',', '.', the other tchars, DEL, 0x80 and above, controls.
        let common = Array("azAZ09-mQ".utf8)
        let edges: [UInt8] = [0x40, 0x5B, 0x60, 0x7B, 0x2F, 0x3A, 0x2C, 0x2E, 0x5F, 0x7E, 0x21, 0x7F, 0x80, 0xC1, 0xFF, 0x00, 0x20, 0x09]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<count).map { _ in
                Int.random(in: 0..<10, using: &generator) == 0 ? edges.randomElement()! : common.randomElement()!
            }
            let expected = bytes.firstIndex { !HeadSyntax.isTokenByte($0) } ?? count
            bytes.withUnsafeBufferPointer { line in #expect(HeadSyntax.tokenEnd(line) == expected, "\(bytes)") }
        }
        for byte in UInt8.min...UInt8.max {
            let line = Array(repeating: UInt8(ascii: "a"), count: 11) + [byte] + Array(repeating: UInt8(ascii: "b"), count: 8)
            line.withUnsafeBufferPointer { #expect(HeadSyntax.tokenEnd($0) == (HeadSyntax.isTokenByte(byte) ? 20 : 11), "byte \(byte)") }
        }
    }

    @Test func tokenBytes_areExactlyTheTcharsOfRFC9110() {
        let tchars = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        for byte in UInt8.min...UInt8.max { #expect(HeadSyntax.isTokenByte(byte) == tchars.contains(byte), "byte \(byte)") }
    }
}
