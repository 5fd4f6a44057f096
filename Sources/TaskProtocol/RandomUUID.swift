import Glibc
import Synchronization

/// Version-4 UUIDs as Celery writes them (`uuid.uuid4()`: lowercase 8-4-4-4-12), without Foundation.
///
/// Foundation's `UUID()` opens, reads and closes /dev/urandom for every id (3 syscalls, ~3 µs): 7.7 % of
/// `POST /tasks`, which makes two ids. glibc's `arc4random_buf` is one `getrandom` call, as unpredictable
/// as `/dev/urandom` — and one call fills a pool of 256 ids' bytes: a 1,000-member group makes 2,000 ids
/// (each member's id and delivery tag), which were 2,000 syscalls, about a millisecond of the request.
/// Each byte is handed out once; a forked child never reuses its parent's pool (`pthread_atfork` marks it spent).
enum RandomUUID {
    private struct Pool {
        var bytes = [UInt8](repeating: 0, count: 16 * 256)
        var used = 16 * 256
        /// `forks` when the pool was filled: a fork since then makes it stale.
        var generation = -1
    }

    private static let hex: (UInt64, UInt64) = (0x3736_3534_3332_3130, 0x6665_6463_6261_3938)  // "0123456789abcdef"
    private static let pool = Mutex(Pool())
    private static let forks = Atomic<Int>(0)
    private static let watchingForks: Void = {
        pthread_atfork(nil, nil) { RandomUUID.forks.wrappingAdd(1, ordering: .relaxed) }
    }()

    /// A fresh random UUID: 122 random bits, version nibble 4, variant bits `10`.
    static func make() -> String {
        _ = watchingForks
        var raw: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &raw) { bytes in
            pool.withLock { pool in
                let generation = forks.load(ordering: .relaxed)
                if pool.used == pool.bytes.count || pool.generation != generation {
                    pool.bytes.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
                    pool.used = 0
                    pool.generation = generation
                }
                pool.bytes.withUnsafeMutableBytes { source in
                    let taken = UnsafeMutableRawBufferPointer(rebasing: source[pool.used..<pool.used + 16])
                    bytes.copyMemory(from: UnsafeRawBufferPointer(taken))
                    taken.initializeMemory(as: UInt8.self, repeating: 0)  // handed out once, not kept
                }
                pool.used += 16
            }
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
