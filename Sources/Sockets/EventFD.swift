import CSockets
import Glibc

/// A nonblocking eventfd used to wake an event loop from another thread; owns its descriptor.
public final class EventFD: @unchecked Sendable {
    public let fd: Int32

    public init() throws {
        fd = try Syscall.run("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
    }

    deinit { _ = Glibc.close(fd) }

    /// Makes the descriptor readable; safe from any thread.
    public func signal() {
        var one: UInt64 = 1
        _ = try? Syscall.run("write(eventfd)") { Glibc.write(fd, &one, 8) }
    }

    /// Resets the counter so the descriptor stops being readable.
    public func drain() {
        var value: UInt64 = 0
        _ = try? Syscall.nonblocking("read(eventfd)") { Glibc.read(fd, &value, 8) }
    }
}
