/// Where `TaskMessage.MadeFields` writes an envelope: first a `ByteCount` measures it, then a
/// `ByteCursor` writes it into an array made at that exact size. One sequence of writes serves both,
/// so the size and the bytes cannot disagree, and the writes skip `Array.append`'s per-call checks.
protocol EnvelopeSink {
    mutating func put(_ text: StaticString)
    /// `s` as a JSON string: quoted, escaped as `JSONValue.writeString` escapes it.
    mutating func putString(_ s: String)
    mutating func putInt(_ i: Int64)
    /// Bytes of a `String` as they are (a number `pythonFloat` wrote).
    mutating func putRaw(_ s: String)
    mutating func putBase64(_ bytes: [UInt8])
}

/// Measures what a `ByteCursor` would write.
struct ByteCount: EnvelopeSink {
    var count = 0

    mutating func put(_ text: StaticString) { count += text.utf8CodeUnitCount }
    mutating func putString(_ s: String) { count += Self.jsonLength(s) }
    mutating func putInt(_ i: Int64) {
        var digits = i < 0 ? 2 : 1
        var rest = i.magnitude / 10
        while rest > 0 { digits += 1; rest /= 10 }
        count += digits
    }
    mutating func putRaw(_ s: String) { count += s.utf8.count }
    mutating func putBase64(_ bytes: [UInt8]) { count += (bytes.count + 2) / 3 * 4 }

    /// The bytes `JSONValue.writeString` writes for `s`, quotes included.
    static func jsonLength(_ s: String) -> Int {
        var text = s
        let clean = text.withUTF8 { ByteCursor.cleanPrefixCount($0) }
        var count = 2 + clean
        if clean < text.utf8.count {
            for scalar in text.unicodeScalars.dropFirst(clean) { count += ByteCursor.escapedLength(scalar) }
        }
        return count
    }
}
