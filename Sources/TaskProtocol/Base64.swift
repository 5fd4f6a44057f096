/// Standard base64 (RFC 4648, `=` padding, no line breaks), written straight into an output buffer:
/// the bytes `Data.base64EncodedString()` gives, without the `Data` and the `String` in between.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Appends the base64 of `bytes` to `out`.
    static func encode(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.reserveCapacity(out.count + (bytes.count + 2) / 3 * 4)
        alphabet.withUnsafeBufferPointer { a in
            var i = 0
            while i + 3 <= bytes.count {
                let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                out.append(a[Int(n >> 18)])
                out.append(a[Int(n >> 12 & 0x3F)])
                out.append(a[Int(n >> 6 & 0x3F)])
                out.append(a[Int(n & 0x3F)])
                i += 3
            }
            switch bytes.count - i {
            case 1:
                let n = UInt32(bytes[i]) << 16
                out.append(a[Int(n >> 18)])
                out.append(a[Int(n >> 12 & 0x3F)])
                out.append(UInt8(ascii: "="))
                out.append(UInt8(ascii: "="))
            case 2:
                let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                out.append(a[Int(n >> 18)])
                out.append(a[Int(n >> 12 & 0x3F)])
                out.append(a[Int(n >> 6 & 0x3F)])
                out.append(UInt8(ascii: "="))
            default: break
            }
        }
    }
}
