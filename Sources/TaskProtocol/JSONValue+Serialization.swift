extension JSONValue {
    /// Serializes the way Python's `json.dumps` does by default: `", "` and `": "` separators and
    /// non-ASCII escaped as `\uXXXX`, so our documents are byte-for-byte what Celery writes.
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The serialized bytes (see `serialized()`).
    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    /// Appends the serialized bytes to `out` (see `serialized()`): for writers that assemble a document.
    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: JSONValue.append("null", to: &out)
        case .bool(let b): JSONValue.append(b ? "true" : "false", to: &out)
        case .int(let i): JSONValue.writeInt(i, to: &out)
        case .bigInt(let digits): out.append(contentsOf: digits.utf8)
        case .double(let d): out.append(contentsOf: JSONValue.pythonFloat(d).utf8)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            var first = true
            for v in a {
                if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                first = false
                v.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for pair in o.pairs {
                if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                first = false
                JSONValue.writeString(pair.key, to: &out)
                out.append(UInt8(ascii: ":")); out.append(UInt8(ascii: " "))
                pair.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends literal ASCII text (a keyword, a separator, a fixed key) without a String in between.
    static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Decimal digits of `i`, as `String(i)` writes them, straight into `out`.
    static func writeInt(_ i: Int64, to out: inout [UInt8]) {
        if i < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = i.magnitude
        if magnitude < 10 { out.append(UInt8(48 + magnitude)); return }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: UInt64.max has 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var k = buffer.count
            while magnitude > 0 { k -= 1; buffer[k] = UInt8(48 + magnitude % 10); magnitude /= 10 }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[k...]))
        }
    }

    /// Python's `repr(float)`: shortest round-trip digits, always with a `.0` or an exponent.
    static func pythonFloat(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d < 0 ? "-Infinity" : "Infinity") }
        var s = d.description
        // Bytes, not Characters: the digits are ASCII, and a grapheme walk costs more than the formatting.
        if !s.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") }) { s += ".0" }
        return s
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (ids, names, dates, base64) are printable ASCII with nothing to escape: one copy.
        var text = s
        let clean = text.withUTF8 { utf8 -> Int in
            let i = ByteCursor.cleanPrefixCount(utf8)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[..<i]))
            return i
        }
        if clean < text.utf8.count {
            // The clean prefix is ASCII: as many scalars as bytes.
            for scalar in text.unicodeScalars.dropFirst(clean) { writeScalar(scalar, to: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func writeScalar(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
        switch scalar.value {
        case 0x22: append("\\\"", to: &out)
        case 0x5C: append("\\\\", to: &out)
        case 0x0A: append("\\n", to: &out)
        case 0x0D: append("\\r", to: &out)
        case 0x09: append("\\t", to: &out)
        case 0x08: append("\\b", to: &out)
        case 0x0C: append("\\f", to: &out)
        case 0x20..<0x7F: out.append(UInt8(scalar.value))
        case 0x10000...:
            let v = scalar.value - 0x10000
            writeEscape(0xD800 + (v >> 10), to: &out)
            writeEscape(0xDC00 + (v & 0x3FF), to: &out)
        default: writeEscape(scalar.value, to: &out)
        }
    }

    private static func writeEscape(_ v: UInt32, to out: inout [UInt8]) {
        append("\\u", to: &out)
        out.append(hex[Int((v >> 12) & 0xF)])
        out.append(hex[Int((v >> 8) & 0xF)])
        out.append(hex[Int((v >> 4) & 0xF)])
        out.append(hex[Int(v & 0xF)])
    }
}
