import CSockets
import Glibc
import Synchronization

/// One thread with its own epoll instance: the one place where every socket of the process (HTTP
/// connections and listeners, Redis connections) waits for readiness, and where their deadlines run
/// as timers on the monotonic clock. It is also a `TaskExecutor`, so a handler task whose executor
/// preference is the loop runs on this thread between I/O events, and a continuation resumed here
/// for such a task costs no thread hop.
///
/// Everything but `enqueue`, `execute` and `isOnLoop` is confined to the loop thread: call it from
/// an `EventHandler` callback, a timer, or a closure given to `execute`.
///
/// A turn of the loop: run the inbox (jobs and closures from other threads), run the end-of-turn
/// actions (Redis connections flush there, so commands queued during one turn leave in one write),
/// wait in `epoll_wait`, read the clock, dispatch the ready descriptors, fire due timers.
public final class EventLoop: TaskExecutor, @unchecked Sendable {
    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private struct Inbox {
        var items: [Work] = []
        var sleeping = false
    }

    private static let wakeToken = UInt64.max

    /// For thread names and logs (`celeriac-loop-0`).
    public let name: String
    private let epoll: Epoll
    private let wakeFD: EventFD
    private let inbox = Mutex(Inbox())
    private let threadID = Atomic<UInt>(0)
    private var handlers: [(any EventHandler)?] = []
    private var timers = TimerHeap()
    private var endOfTurn: [() -> Void] = []

    /// The monotonic clock (ns) as of the last wake-up or `refreshNow()`; cheaper than a syscall per use.
    public private(set) var now: UInt64 = MonotonicClock.nanoseconds()
    /// A 64 KiB read buffer the loop's handlers share (one runs at a time on this thread).
    public let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    /// Creates the loop; `start()` runs it on a thread of its own.
    public init(name: String) throws {
        self.name = name
        epoll = try Epoll(capacity: 512)
        wakeFD = try EventFD()
        try epoll.add(wakeFD.fd, events: .readable, token: Self.wakeToken)
    }

    deinit { scratch.deallocate() }

    /// Starts the loop thread (detached: the loop runs for the life of the process).
    public func start() throws {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let loop = Unmanaged<EventLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<EventLoop>.fromOpaque(context).release()
            throw SocketError("pthread_create(\(name))", code: rc)
        }
        pthread_detach(thread)
    }

    /// True on the loop's own thread.
    public var isOnLoop: Bool { threadID.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// The loop whose thread is calling, nil off every loop: work begun in a loop's turn can join it
    /// (`atEndOfTurn`), as writes to Redis do.
    public static var current: EventLoop? {
        guard let pointer = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Each loop thread's own loop (a loop lives as long as the process: its thread holds it).
    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create: \(status)")
        return key
    }()

    // MARK: Executor and inbox

    /// Runs a task's job on the loop thread (the `TaskExecutor` requirement).
    public func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    /// Runs `work` on the loop thread: inline when already there, else queued and the loop woken.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        if isOnLoop { work() } else { submit(.closure(work)) }
    }

    private func submit(_ work: Work) {
        let wake = inbox.withLock { inbox -> Bool in
            inbox.items.append(work)
            if inbox.sleeping {
                inbox.sleeping = false
                return true
            }
            return false
        }
        if wake { wakeFD.signal() }
    }

    private func runPendingWork() {
        for _ in 0..<4 {
            let items = inbox.withLock { inbox -> [Work] in
                let items = inbox.items
                inbox.items.removeAll(keepingCapacity: true)
                return items
            }
            if items.isEmpty { return }
            for item in items {
                switch item {
                case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
                case .closure(let work): work()
                }
            }
            now = MonotonicClock.nanoseconds()
        }
    }

    /// Runs `action` at the end of this turn, after the inbox and before the next wait (loop thread).
    public func atEndOfTurn(_ action: @escaping () -> Void) {
        endOfTurn.append(action)
    }

    /// Reads the clock again (a handler that accepts a connection dates it from now, not the wake-up).
    public func refreshNow() { now = MonotonicClock.nanoseconds() }

    // MARK: Registration (loop thread)

    /// Starts watching `fd` for `events`; its readiness goes to `handler`, which the loop keeps
    /// (strongly) until `deregister`.
    public func register(_ fd: Int32, events: EpollEvents, handler: any EventHandler) throws {
        try epoll.add(fd, events: events, token: UInt64(fd))
        if Int(fd) >= handlers.count {
            handlers.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - handlers.count + 64))
        }
        handlers[Int(fd)] = handler
    }

    /// Changes the events watched on a registered `fd`.
    public func modify(_ fd: Int32, events: EpollEvents) throws {
        try epoll.modify(fd, events: events, token: UInt64(fd))
    }

    /// Stops watching `fd` and drops its handler; call it before closing the descriptor.
    public func deregister(_ fd: Int32) {
        epoll.remove(fd)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    // MARK: Timers (loop thread)

    /// Runs `action` on the loop once the monotonic clock reaches `deadline` (ns).
    @discardableResult
    public func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        timers.schedule(at: deadline, action)
    }

    /// Disarms a timer; a timer that already fired or was cancelled is ignored.
    public func cancelTimer(_ timer: LoopTimer) { timers.cancel(timer) }

    // MARK: Loop

    private func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        var name = Array(self.name.utf8.prefix(15)) + [0]
        name.withUnsafeMutableBufferPointer { _ = pthread_setname_np(pthread_self(), $0.baseAddress!) }
        while true {
            runPendingWork()
            runEndOfTurn()
            var timeout = timeoutMilliseconds()
            inbox.withLock { inbox in
                if inbox.items.isEmpty { inbox.sleeping = true } else { timeout = 0 }
            }
            var ready = 0
            do {
                ready = try epoll.wait(timeoutMilliseconds: timeout)
            } catch {
                // Only EBADF/EFAULT/EINVAL can come here: a bug, not load. Do not spin on it.
                let line = Array("\(name): \(error)\n".utf8)
                _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
                usleep(10_000)
            }
            inbox.withLock { $0.sleeping = false }
            // The clock is read before dispatch: the wait may have lasted a minute, and a connection
            // accepted now that took the old time as `idleSince` would be closed at once as past its
            // header timeout (issue 10).
            now = MonotonicClock.nanoseconds()
            for i in 0..<ready {
                let (token, events) = epoll.ready(i)
                dispatch(token, events)
            }
            while let action = timers.popDue(now: now) { action() }
        }
    }

    private func runEndOfTurn() {
        var rounds = 0
        while !endOfTurn.isEmpty && rounds < 4 {
            let actions = endOfTurn
            endOfTurn.removeAll(keepingCapacity: true)
            for action in actions { action() }
            rounds += 1
        }
    }

    private func timeoutMilliseconds() -> Int32 {
        if !endOfTurn.isEmpty { return 0 }
        guard let next = timers.nextDeadline() else { return -1 }
        if next <= now { return 0 }
        return Int32(min((next - now + 999_999) / 1_000_000, 60_000))
    }

    private func dispatch(_ token: UInt64, _ events: EpollEvents) {
        if token == Self.wakeToken {
            wakeFD.drain()
            return
        }
        let fd = Int(token)
        guard fd < handlers.count, let handler = handlers[fd] else { return }
        if events.contains(.error) {
            handler.failed()
            return
        }
        if events.contains(.readable) || events.contains(.hangup) { handler.readable(hangup: events.contains(.hangup)) }
        // The read may have closed it (and another handler may even own the descriptor number now).
        if events.contains(.writable), handlers[fd] === handler { handler.writable() }
    }
}
