import Foundation
import Testing
import TaskProtocol

/// The hand-written encoders (dates, ids, ints, strings, the envelope) write exactly the bytes of the
/// straightforward code they replaced, which is kept here as the reference.
@Suite struct FastEncodingTests {
    /// CeleryDate.format as it was: gmtime_r and String padding.
    static func referenceFormat(_ date: Date) -> String {
        let raw = date.timeIntervalSince1970
        let seconds = raw.isNaN ? 0 : min(max(raw, -62_135_596_800), 253_402_300_799)
        var whole = Int(seconds.rounded(.down))
        var micros = Int(((seconds - Double(whole)) * 1_000_000).rounded())
        if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(micros, 6))+00:00"
    }

    @Test func dateFormatting_matchesGmtime_acrossYearsOneTo9999() {
        var rng = SystemRandomNumberGenerator()
        var samples: [Double] = [0, -1, -0.5, 86_399.9999995, 951_782_400, 4_107_542_400, -62_135_596_800, 253_402_300_799,
                                 -62_135_596_800.25, 1_764_069_140.923179, 1_764_069_140.9999996]
        for _ in 0..<20_000 { samples.append(Double.random(in: -62_135_596_800...253_402_300_799, using: &rng)) }
        for _ in 0..<5_000 { samples.append(Double.random(in: -86_400 * 800...86_400 * 800, using: &rng)) }
        for seconds in samples {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(CeleryDate.format(date) == Self.referenceFormat(date), "\(seconds)")
        }
    }

    @Test func newIDs_areLowercaseVersion4UUIDs_andDoNotRepeat() {
        var seen = Set<String>()
        for _ in 0..<5_000 {
            let id = TaskMessage.newID()
            let bytes = Array(id.utf8)
            #expect(bytes.count == 36)
            #expect([8, 13, 18, 23].allSatisfy { bytes[$0] == UInt8(ascii: "-") })
            #expect(bytes.enumerated().allSatisfy { [8, 13, 18, 23].contains($0.offset) || "0123456789abcdef".utf8.contains($0.element) })
            #expect(bytes[14] == UInt8(ascii: "4"), "version 4")
            #expect("89ab".utf8.contains(bytes[19]), "RFC 4122 variant")
            #expect(UUID(uuidString: id) != nil)
            seen.insert(id)
        }
        #expect(seen.count == 5_000)
    }

    @Test func integers_serializeAsTheirDecimalDigits_andParseBack() throws {
        let values: [Int64] = [0, 7, -7, 10, -10, 99, 1_000_000, 999_999_999_999_999_999, -999_999_999_999_999_999,
                               1_000_000_000_000_000_000, .max, .min, .min + 1]
        for value in values {
            #expect(JSONValue.int(value).serialized() == String(value))
            #expect(try JSONValue.parse(String(value)) == .int(value))
        }
        #expect(try JSONValue.parse("-0") == .int(0))
        #expect(try JSONValue.parse("[123456789012345678, -123456789012345678]") == [123_456_789_012_345_678, -123_456_789_012_345_678])
    }

    @Test func strings_escapeLikePython_afterAnyCleanPrefix() {
        let cases: [(String, String)] = [
            ("plain", #""plain""#), ("", #""""#), ("tab\there", #""tab\there""#), ("q\"b\\", #""q\"b\\""#),
            ("del\u{7F}", #""del\u007f""#), ("ctl\u{01}\u{1F}", #""ctl\u0001\u001f""#), ("abcé😀z", #""abc\u00e9\ud83d\ude00z""#),
            ("\u{0}", #""\u0000""#), ("a\r\n\u{8}\u{C}", #""a\r\n\b\f""#),
        ]
        for (text, expected) in cases { #expect(JSONValue.string(text).serialized() == expected) }
    }

    /// Python's `json.dumps` of a str, one scalar at a time (the reference for the word-at-a-time scan).
    static func referenceEscape(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(scalar)
            default:
                let units = scalar.value >= 0x10000
                    ? [0xD800 + ((scalar.value - 0x10000) >> 10), 0xDC00 + ((scalar.value - 0x10000) & 0x3FF)] : [scalar.value]
                for unit in units {
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
        }
        return out + "\""
    }

    @Test func strings_escapeLikePython_whereverInALongStringTheFirstEscapeFalls() throws {
        let specials = ["\"", "\\", "\n", "\u{1F}", "\u{0}", "\u{7F}", "\u{80}", "é", "😀", " ", "~", "!", "[", "]", "}"]
        for length in [0, 7, 8, 9, 15, 16, 17, 40] {
            for offset in 0...length {
                for special in specials {
                    var text = String(repeating: "a", count: length)
                    text.insert(contentsOf: special, at: text.index(text.startIndex, offsetBy: offset))
                    text += "tail-after-the-first-escape\u{1}"
                    #expect(JSONValue.string(text).serialized() == Self.referenceEscape(text), "\(length) \(offset) \(special.unicodeScalars.first!.value)")
                    let made = TaskMessage.make(task: text, args: [.string(text)], kwargs: [:])
                    // The envelope `make` wrote parses back to the same text (the decoder does not share the scan).
                    #expect(try TaskMessage.decode(made.encoded()) == made)
                }
            }
        }
    }

    @Test func envelope_isTheSerializationOfTheEnvelopeObject() throws {
        var messages = [
            TaskMessage.make(task: "tasks.add", args: [1, 2], kwargs: [:]),
            TaskMessage.make(task: "tasks.é", args: ["ünï", 2.5, nil, ["x": [true]]], kwargs: ["k": "v\n\"", "n": 9],
                             options: { var o = TaskMessage.Options(); o.eta = Date(); o.priority = 3; o.queue = "q"; return o }()),
        ]
        var plain = TaskMessage.make(task: "t", args: ["😀"], kwargs: [:])
        plain.properties["body_encoding"] = "utf-8"
        messages.append(plain)
        for bodyLength in 0..<4 {  // every base64 padding case
            messages.append(TaskMessage.make(task: "t", args: [.string(String(repeating: "x", count: bodyLength))], kwargs: [:]))
        }
        for message in messages {
            let bodyBytes = message.bodyJSON.serializedBytes()
            let body = message.properties["body_encoding"]?.stringValue == "base64"
                ? Data(bodyBytes).base64EncodedString() : String(decoding: bodyBytes, as: UTF8.self)
            let envelope: JSONValue = ["body": .string(body), "content-encoding": .string(message.contentEncoding),
                                       "content-type": .string(message.contentType), "headers": .object(message.headers),
                                       "properties": .object(message.properties)]
            #expect(message.encoded() == envelope.serializedBytes())
            #expect(try TaskMessage.decode(message.encoded()) == message)
        }
    }

    @Test func madeEnvelope_isTheFieldByFieldSerialization_forEveryOption() throws {
        var rng = SystemRandomNumberGenerator()
        let texts = ["tasks.add", "é\"q\\", "a\nb", "😀", "", "x'y"]
        let values: [JSONValue] = [1, -2.5, nil, true, "s\u{1}", ["k": [1, "v"]], .bigInt("123456789012345678901234567890"), 1e300]
        for round in 0..<400 {
            var options = TaskMessage.Options()
            func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random(using: &rng) ? value() : nil }
            options.queue = texts.randomElement(using: &rng)! + "q"
            options.eta = maybe(Date(timeIntervalSince1970: Double.random(in: 0...4e9, using: &rng)))
            options.expires = maybe(Date(timeIntervalSince1970: Double.random(in: 0...4e9, using: &rng)))
            options.priority = maybe(Int.random(in: 0...9, using: &rng))
            options.retries = Int.random(in: 0...100, using: &rng)
            options.parentID = maybe(TaskMessage.newID())
            options.rootID = maybe(texts.randomElement(using: &rng)!)
            options.timeLimits = (maybe(Double.random(in: 0...1e4, using: &rng).rounded()), maybe(Double.random(in: 0...1e4, using: &rng)))
            options.ignoreResult = Bool.random(using: &rng)
            options.origin = texts.randomElement(using: &rng)!
            options.groupID = maybe(TaskMessage.newID())
            options.groupIndex = maybe(Int.random(in: 0...10_000, using: &rng))
            options.sentAt = maybe(Date(timeIntervalSince1970: Double.random(in: 1e9...2e9, using: &rng)))
            let args = (0..<Int.random(in: 0...4, using: &rng)).map { _ in values.randomElement(using: &rng)! }
            var kwargs = JSONObject()
            for _ in 0..<Int.random(in: 0...3, using: &rng) { kwargs[texts.randomElement(using: &rng)!] = values.randomElement(using: &rng)! }
            let embed: JSONValue = round % 3 == 0 ? ["callbacks": nil, "errbacks": nil, "chain": nil, "chord": ["task": "t"]]
                                                  : TaskMessage.emptyEmbed
            let made = TaskMessage.make(task: texts.randomElement(using: &rng)! + "t", args: args, kwargs: kwargs, options: options, embed: embed)
            var serialized = made
            serialized.embed = made.embed  // any change drops the envelope `make` wrote
            #expect(made.encoded() == serialized.encoded())
            #expect(try TaskMessage.decode(made.encoded()) == made)
            #expect(made.headers["celeriac_sent_at"]?.doubleValue == options.sentAt?.timeIntervalSince1970)
        }
    }

    @Test func aMessageChangedAfterMake_isEncodedAsChanged() throws {
        var message = TaskMessage.make(task: "t", args: [1], kwargs: [:])
        message.markRedelivered()
        #expect(try TaskMessage.decode(message.encoded()).redelivered)
        message.args = [2]
        #expect(try TaskMessage.decode(message.encoded()).args == [2])
    }
}
