import Glibc

/// Version-4 UUIDs as Celery writes them (`uuid.uuid4()`: lowercase 8-4-4-4-12), without Foundation.
///
/// Foundation's `UUID()` opens, reads and closes /dev/urandom for every id (3 syscalls, ~3 µs): 7.7 % of
/// `POST /tasks`, which makes two ids. glibc's `arc4random_buf` is one `getrandom` call (~0.4 µs),
/// keeps no state across `fork`, and is as unpredictable as `/dev/urandom`.
enum RandomUUID {
    private static let hex: (UInt64, UInt64) = (0x3736_3534_3332_3130, 0x6665_6463_6261_3938)  // "0123456789abcdef"

    /// A fresh random UUID: 122 random bits, version nibble 4, variant bits `10`.
    static func make() -> String {
        var raw: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &raw) { bytes in
            arc4random_buf(bytes.baseAddress!, 16)
            bytes[6] = (bytes[6] & 0x0F) | 0x40
            bytes[8] = (bytes[8] & 0x3F) | 0x80
            return format(UnsafeRawBufferPointer(bytes))
        }
    }

    /// 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase.
    static func format(_ bytes: UnsafeRawBufferPointer) -> String {
        precondition(bytes.count == 16)
        return String(unsafeUninitializedCapacity: 36) { out in
            withUnsafeBytes(of: hex) { digits in
                var o = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 { out[o] = UInt8(ascii: "-"); o += 1 }
                    out[o] = digits[Int(bytes[i] >> 4)]
                    out[o + 1] = digits[Int(bytes[i] & 0x0F)]
                    o += 2
                }
            }
            return 36
        }
    }
}
