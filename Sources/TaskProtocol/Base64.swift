/// Standard base64 (RFC 4648, `=` padding, no line breaks), written straight into an output buffer:
/// the bytes `Data.base64EncodedString()` gives, without the `Data` and the `String` in between.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Appends the base64 of `bytes` to `out`: the room made once, the quads written through a pointer
    /// (no capacity check per byte).
    static func encode(_ bytes: [UInt8], to out: inout [UInt8]) {
        let start = out.count
        let count = (bytes.count + 2) / 3 * 4
        out.append(contentsOf: repeatElement(0, count: count))
        out.withUnsafeMutableBufferPointer { output in
            encode(bytes, into: UnsafeMutableBufferPointer(rebasing: output[start..<start + count]))
        }
    }

    /// Writes the base64 of `bytes` into `output`, which holds exactly `(bytes.count + 2) / 3 * 4` bytes.
    static func encode(_ bytes: [UInt8], into output: UnsafeMutableBufferPointer<UInt8>) {
        precondition(output.count == (bytes.count + 2) / 3 * 4)
        alphabet.withUnsafeBufferPointer { a in
            bytes.withUnsafeBufferPointer { input in
                var o = 0
                var i = 0
                while i + 3 <= input.count {
                    let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                    output[o] = a[Int(n >> 18)]
                    output[o + 1] = a[Int(n >> 12 & 0x3F)]
                    output[o + 2] = a[Int(n >> 6 & 0x3F)]
                    output[o + 3] = a[Int(n & 0x3F)]
                    i += 3
                    o += 4
                }
                switch input.count - i {
                case 1:
                    let n = UInt32(input[i]) << 16
                    output[o] = a[Int(n >> 18)]
                    output[o + 1] = a[Int(n >> 12 & 0x3F)]
                    output[o + 2] = UInt8(ascii: "=")
                    output[o + 3] = UInt8(ascii: "=")
                case 2:
                    let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                    output[o] = a[Int(n >> 18)]
                    output[o + 1] = a[Int(n >> 12 & 0x3F)]
                    output[o + 2] = a[Int(n >> 6 & 0x3F)]
                    output[o + 3] = UInt8(ascii: "=")
                default: break
                }
            }
        }
    }
}
