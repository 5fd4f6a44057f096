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

    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .bigInt(let digits): out.append(contentsOf: digits.utf8)
        case .double(let d): out.append(contentsOf: JSONValue.pythonFloat(d).utf8)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                v.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, pair) in o.pairs.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                JSONValue.writeString(pair.key, to: &out)
                out.append(contentsOf: ": ".utf8)
                pair.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Python's `repr(float)`: shortest round-trip digits, always with a `.0` or an exponent.
    static func pythonFloat(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d < 0 ? "-Infinity" : "Infinity") }
        var s = "\(d)"
        if !s.contains(".") && !s.contains("e") { s += ".0" }
        return s
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (ids, names, base64 bodies) are printable ASCII with nothing to escape: copied at once.
        let copied = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte >= 0x7F || byte == 0x22 || byte == 0x5C { return false }
            out.append(contentsOf: bytes)
            return true
        } ?? false
        if copied {
            out.append(UInt8(ascii: "\""))
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x22: out.append(contentsOf: "\\\"".utf8)
            case 0x5C: out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x08: out.append(contentsOf: "\\b".utf8)
            case 0x0C: out.append(contentsOf: "\\f".utf8)
            case 0x20..<0x7F: out.append(UInt8(scalar.value))
            case 0x10000...:
                let v = scalar.value - 0x10000
                writeEscape(0xD800 + (v >> 10), to: &out)
                writeEscape(0xDC00 + (v & 0x3FF), to: &out)
            default: writeEscape(scalar.value, to: &out)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func writeEscape(_ v: UInt32, to out: inout [UInt8]) {
        out.append(contentsOf: "\\u".utf8)
        out.append(hex[Int((v >> 12) & 0xF)])
        out.append(hex[Int((v >> 8) & 0xF)])
        out.append(hex[Int((v >> 4) & 0xF)])
        out.append(hex[Int(v & 0xF)])
    }
}
