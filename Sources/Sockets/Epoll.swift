import CSockets
import Glibc

/// Readiness bits of an epoll registration, without exposing the C enum.
public struct EpollEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = EpollEvents(rawValue: EPOLLIN.rawValue)
    public static let writable = EpollEvents(rawValue: EPOLLOUT.rawValue)
    public static let error = EpollEvents(rawValue: EPOLLERR.rawValue)
    public static let hangup = EpollEvents(rawValue: EPOLLHUP.rawValue)
}

/// One epoll instance (level-triggered); owns its descriptor and its event buffer.
///
/// Not thread-safe: one event-loop thread registers, waits and dispatches.
public final class Epoll {
    public let fd: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity: Int

    /// Creates the instance; `capacity` is how many events one `wait` can return.
    public init(capacity: Int = 256) throws {
        fd = try Syscall.run("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        self.capacity = capacity
        events = .allocate(capacity: capacity)
    }

    deinit {
        events.deallocate()
        _ = Glibc.close(fd)
    }

    /// Starts watching `target`; `token` comes back with each of its events.
    public func add(_ target: Int32, events wanted: EpollEvents, token: UInt64) throws {
        try control(EPOLL_CTL_ADD, target, wanted, token, name: "epoll_ctl(ADD, fd \(target))")
    }

    /// Changes the events watched on `target`.
    public func modify(_ target: Int32, events wanted: EpollEvents, token: UInt64) throws {
        try control(EPOLL_CTL_MOD, target, wanted, token, name: "epoll_ctl(MOD, fd \(target))")
    }

    /// Stops watching `target`; a descriptor already closed is not an error.
    public func remove(_ target: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(fd, EPOLL_CTL_DEL, target, &event)
    }

    private func control(_ op: Int32, _ target: Int32, _ wanted: EpollEvents, _ token: UInt64, name: @autoclosure () -> String) throws {
        var event = epoll_event()
        event.events = wanted.rawValue
        event.data.u64 = token
        _ = try Syscall.run(name()) { epoll_ctl(fd, op, target, &event) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever); returns how many registrations are ready, to
    /// be read with `ready(_:)` before the next wait. An interrupted wait (EINTR) returns 0 rather than
    /// retrying with a stale timeout. Dispatch is left to the caller so that it can read the clock
    /// first: a wait may have lasted minutes, and what it dispatches must not see the old time.
    public func wait(timeoutMilliseconds: Int32) throws -> Int {
        let count = epoll_wait(fd, events, Int32(capacity), timeoutMilliseconds)
        if count < 0 {
            if errno == EINTR { return 0 }
            throw SocketError("epoll_wait", code: errno)
        }
        return Int(count)
    }

    /// The `index`th registration the last `wait` found ready, and its events.
    public func ready(_ index: Int) -> (token: UInt64, events: EpollEvents) {
        (events[index].data.u64, EpollEvents(rawValue: events[index].events))
    }
}
