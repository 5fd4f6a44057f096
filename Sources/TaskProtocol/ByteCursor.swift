/// Writes into memory sized beforehand by a `ByteCount` (`[UInt8](unsafeUninitializedCapacity:)`):
/// each write checks the end once, then copies, without `Array.append`'s capacity and uniqueness checks.
struct ByteCursor: EnvelopeSink {
    private(set) var position: UnsafeMutablePointer<UInt8>
    let end: UnsafeMutablePointer<UInt8>

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        position = buffer.baseAddress!
        end = position + buffer.count
    }

    @inline(__always)
    private mutating func room(_ n: Int) {
        precondition(end - position >= n, "envelope larger than measured")
    }

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        room(1)
        position.pointee = byte
        position += 1
    }

    mutating func put(_ text: StaticString) {
        let n = text.utf8CodeUnitCount
        room(n)
        position.update(from: text.utf8Start, count: n)
        position += n
    }

    mutating func putRaw(_ s: String) {
        var text = s
        text.withUTF8 { utf8 in
            room(utf8.count)
            if let base = utf8.baseAddress { position.update(from: base, count: utf8.count) }
            position += utf8.count
        }
    }

    mutating func putInt(_ i: Int64) {
        if i < 0 { put(UInt8(ascii: "-")) }
        var magnitude = i.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 { digits += 1; rest /= 10 }
        room(digits)
        for k in stride(from: digits - 1, through: 0, by: -1) {
            position[k] = UInt8(48 + magnitude % 10)
            magnitude /= 10
        }
        position += digits
    }

    mutating func putString(_ s: String) {
        put(UInt8(ascii: "\""))
        // Most strings (ids, names, dates, reprs) are printable ASCII with nothing to escape: one copy.
        var text = s
        let clean = text.withUTF8 { utf8 -> Int in
            let clean = Self.cleanPrefixCount(utf8)
            room(clean)
            if let base = utf8.baseAddress { position.update(from: base, count: clean) }
            position += clean
            return clean
        }
        if clean < text.utf8.count {
            // The clean prefix is ASCII: as many scalars as bytes.
            for scalar in text.unicodeScalars.dropFirst(clean) { putScalar(scalar) }
        }
        put(UInt8(ascii: "\""))
    }

    mutating func putBase64(_ bytes: [UInt8]) {
        let n = (bytes.count + 2) / 3 * 4
        room(n)
        Base64.encode(bytes, into: UnsafeMutableBufferPointer(start: position, count: n))
        position += n
    }

    /// A byte that `JSONValue.writeString` does not copy as it is.
    @inline(__always)
    static func needsEscape(_ c: UInt8) -> Bool { c < 0x20 || c >= 0x7F || c == 0x22 || c == 0x5C }

    /// How many leading bytes of `utf8` need no escape: eight at a time while a word has none of them
    /// (the bit tricks from "Bit Twiddling Hacks": a byte below 0x20, above 0x7E, or equal to `"` or `\`),
    /// then byte by byte from the first word that has one.
    static func cleanPrefixCount(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = utf8.baseAddress else { return 0 }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        while i + 8 <= utf8.count {
            let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            let below = (w &- ones &* 0x20) & ~w & highs
            let above = ((w &+ ones) | w) & highs
            let quote = w ^ (ones &* 0x22)
            let backslash = w ^ (ones &* 0x5C)
            let equal = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash) & highs
            if below | above | equal != 0 { break }
            i += 8
        }
        while i < utf8.count && !needsEscape(base[i]) { i += 1 }
        return i
    }

    /// What `putScalar` writes for `scalar`, in bytes.
    static func escapedLength(_ scalar: Unicode.Scalar) -> Int {
        switch scalar.value {
        case 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: 2
        case 0x20..<0x7F: 1
        case 0x10000...: 12
        default: 6
        }
    }

    /// `JSONValue.writeScalar`'s escaping (Python's `json.dumps` with `ensure_ascii`).
    private mutating func putScalar(_ scalar: Unicode.Scalar) {
        switch scalar.value {
        case 0x22: put("\\\"")
        case 0x5C: put("\\\\")
        case 0x0A: put("\\n")
        case 0x0D: put("\\r")
        case 0x09: put("\\t")
        case 0x08: put("\\b")
        case 0x0C: put("\\f")
        case 0x20..<0x7F: put(UInt8(scalar.value))
        case 0x10000...:
            let v = scalar.value - 0x10000
            putEscape(0xD800 + (v >> 10))
            putEscape(0xDC00 + (v & 0x3FF))
        default: putEscape(scalar.value)
        }
    }

    private static let hex: StaticString = "0123456789abcdef"

    private mutating func putEscape(_ v: UInt32) {
        put("\\u")
        let digits = Self.hex.utf8Start
        put(digits[Int((v >> 12) & 0xF)])
        put(digits[Int((v >> 8) & 0xF)])
        put(digits[Int((v >> 4) & 0xF)])
        put(digits[Int(v & 0xF)])
    }
}
