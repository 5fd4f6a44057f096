import Glibc
import Logging
import Sockets
import Synchronization

/// One thread with its own epoll instance, listener and connections; also a `TaskExecutor`, so
/// handler tasks run on this thread between I/O events (no thread hop for a handler that does not
/// suspend) and a handler resumed from elsewhere wakes the loop through an eventfd.
///
/// Everything but `enqueue` and `execute` is confined to the loop thread.
final class EventLoop: TaskExecutor, @unchecked Sendable {
    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private struct Inbox {
        var items: [Work] = []
        var sleeping = false
        var exited = false
    }

    static let wakeToken = UInt64.max
    static let listenerToken = UInt64.max - 1

    let index: Int
    let core: ServerCore
    let epoll: Epoll
    private let wakeFD: EventFD
    private var listener: ListeningSocket?
    private let inbox = Mutex(Inbox())
    private let threadID = Atomic<UInt>(0)

    private var connections: [Connection?] = []
    private(set) var openCount = 0
    private var refusingCount = 0
    private var acceptPausedUntil: UInt64 = 0
    var now = MonotonicClock.nanoseconds()
    var encoder = ResponseEncoder()
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private var nextTimerCheck = UInt64.max
    private(set) var draining = false
    private var forceDeadline = UInt64.max
    private var requestCounter: UInt64 = 0

    /// Refusing connections (over `maxConnections`) answered at once per loop; beyond, plain close.
    static let maxRefusing = 64

    init(index: Int, core: ServerCore, listener: ListeningSocket) throws {
        self.index = index
        self.core = core
        self.listener = listener
        epoll = try Epoll(capacity: 512)
        wakeFD = try EventFD()
        try epoll.add(wakeFD.fd, events: .readable, token: Self.wakeToken)
        try epoll.add(listener.fd, events: .readable, token: Self.listenerToken)
    }

    deinit { readBuffer.deallocate() }

    // MARK: Thread

    /// Starts the loop thread (detached; it reports its exit to `core`).
    func startThread() throws {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let loop = Unmanaged<EventLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<EventLoop>.fromOpaque(context).release()
            throw HTTPServerError("pthread_create for event loop \(index): \(String(decoding: Array(String(cString: strerror(rc)).utf8), as: UTF8.self))")
        }
        pthread_detach(thread)
    }

    var isOnLoop: Bool { threadID.load(ordering: .relaxed) == UInt(pthread_self()) }

    // MARK: Executor

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if !submit(.job(unowned)) {
            // The loop is gone (after shutdown): leftover handler code still gets to finish.
            globalConcurrentExecutor.enqueue(ExecutorJob(unowned))
        }
    }

    /// Runs `work` on the loop thread: inline when already there, else queued and the loop woken.
    /// After the loop has exited, `work` runs inline (connections are closed by then, so it is a no-op).
    func execute(_ work: @escaping @Sendable () -> Void) {
        if isOnLoop || !submit(.closure(work)) { work() }
    }

    /// False when the loop has exited.
    private func submit(_ work: Work) -> Bool {
        let (accepted, wake) = inbox.withLock { inbox -> (Bool, Bool) in
            if inbox.exited { return (false, false) }
            inbox.items.append(work)
            if inbox.sleeping {
                inbox.sleeping = false
                return (true, true)
            }
            return (true, false)
        }
        if wake { wakeFD.signal() }
        return accepted
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

    // MARK: Loop

    private func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        while true {
            runPendingWork()
            if draining && openCount == 0 { break }
            if now >= forceDeadline {
                forceCloseAll()
                break
            }
            var timeout = timeoutMilliseconds()
            inbox.withLock { inbox in
                if inbox.items.isEmpty { inbox.sleeping = true } else { timeout = 0 }
            }
            var ready = 0
            do {
                ready = try epoll.wait(timeoutMilliseconds: timeout)
            } catch {
                core.logger.error("event loop \(index): \(error)")
            }
            inbox.withLock { $0.sleeping = false }
            // The clock is read before dispatch: the wait may have lasted a minute, and a connection
            // accepted now that took the old time as `idleSince` would be closed at once as past its
            // header timeout (issue 10).
            now = MonotonicClock.nanoseconds()
            for i in 0..<ready {
                let (token, events) = epoll.ready(i)
                handle(token, events)
            }
            if now >= nextTimerCheck { checkTimers() }
        }
        exit()
    }

    private func exit() {
        listener?.close()
        listener = nil
        forceCloseAll()
        let leftovers = inbox.withLock { inbox -> [Work] in
            inbox.exited = true
            return inbox.items
        }
        for item in leftovers {
            switch item {
            case .job(let job): globalConcurrentExecutor.enqueue(ExecutorJob(job))
            case .closure(let work): work()
            }
        }
        core.loopExited()
    }

    private func timeoutMilliseconds() -> Int32 {
        let next = min(nextTimerCheck, forceDeadline, acceptPausedUntil == 0 ? .max : acceptPausedUntil)
        if next == .max { return -1 }
        if next <= now { return 0 }
        return Int32(min((next - now + 999_999) / 1_000_000, 60_000))
    }

    private func handle(_ token: UInt64, _ events: EpollEvents) {
        if token == Self.wakeToken {
            wakeFD.drain()
            return
        }
        if token == Self.listenerToken {
            acceptConnections()
            return
        }
        let fd = Int(token)
        guard fd < connections.count, let connection = connections[fd] else { return }
        if events.contains(.error) {
            connection.closeNow()
            return
        }
        if events.contains(.readable) || events.contains(.hangup) { connection.onReadable(hangup: events.contains(.hangup)) }
        if events.contains(.writable) { connection.onWritable() }
    }

    // MARK: Accepting

    private func acceptConnections() {
        guard let listener, !draining else { return }
        for _ in 0..<64 {
            do {
                guard let (fd, peer) = try listener.accept() else { return }
                register(fd: fd, peer: peer)
            } catch let error as SocketError where error.code == ECONNABORTED || error.code == EPROTO {
                continue
            } catch {
                // EMFILE/ENFILE and friends: the pending connection stays queued; pause instead of spinning.
                core.logger.error("accept failed, pausing accepts for 100 ms: \(error)")
                try? epoll.modify(listener.fd, events: [], token: Self.listenerToken)
                acceptPausedUntil = now + 100_000_000
                scheduleTimer(acceptPausedUntil)
                return
            }
        }
    }

    private func register(fd: Int32, peer: String) {
        let counted = core.reserveConnection()
        if !counted && refusingCount >= Self.maxRefusing {
            StreamIO.close(fd)
            return
        }
        // A new connection's header timeout counts from now, not from when this wake-up began.
        now = MonotonicClock.nanoseconds()
        let connection = Connection(loop: self, fd: fd, peer: peer, counted: counted)
        do {
            try epoll.add(fd, events: .readable, token: UInt64(fd))
        } catch {
            core.logger.error("\(error)")
            StreamIO.close(fd)
            if counted { core.releaseConnection() }
            return
        }
        if Int(fd) >= connections.count {
            connections.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - connections.count + 64))
        }
        connections[Int(fd)] = connection
        openCount += 1
        if counted {
            connection.start()
        } else {
            refusingCount += 1
            connection.refuse(HTTPError(status: 503, detail: "the server has reached its limit of \(core.configuration.limits.maxConnections) connections"))
        }
    }

    /// Called by a connection as it closes its descriptor.
    func unregister(_ connection: Connection) {
        let fd = Int(connection.fd)
        if fd < connections.count, connections[fd] === connection { connections[fd] = nil }
        openCount -= 1
        if connection.counted { core.releaseConnection() } else { refusingCount -= 1 }
    }

    // MARK: Timers

    /// Makes sure the loop wakes by `deadline` to check connection deadlines.
    func scheduleTimer(_ deadline: UInt64) {
        if deadline < nextTimerCheck { nextTimerCheck = deadline }
    }

    private func checkTimers() {
        if acceptPausedUntil != 0 && now >= acceptPausedUntil {
            acceptPausedUntil = 0
            if let listener, !draining { try? epoll.modify(listener.fd, events: .readable, token: Self.listenerToken) }
        }
        var next = UInt64.max
        for case let connection? in connections {
            if connection.deadline <= now { connection.deadlinePassed() }
            if connection.isOpen && connection.deadline < next { next = connection.deadline }
        }
        // Scanning is O(connections): never more often than the granularity.
        nextTimerCheck = next == .max ? .max : max(next, now + core.timerGranularity)
    }

    // MARK: Shutdown

    /// Stops accepting, closes idle connections, lets busy ones finish until `forceAfter` (monotonic ns).
    func beginDrain(forceAfter: UInt64) {
        guard !draining else { return }
        draining = true
        forceDeadline = forceAfter
        if let listener {
            epoll.remove(listener.fd)
            listener.close()
            self.listener = nil
        }
        for case let connection? in connections { connection.drain() }
    }

    private func forceCloseAll() {
        for case let connection? in connections { connection.forceClose() }
    }

    /// An id unique within the process: loop index and a per-loop counter.
    /// Formatted by hand on the stack: up to 15 bytes is a small string, so no allocation per request.
    func nextRequestID() -> String {
        requestCounter &+= 1
        let counter = requestCounter
        let loopIndex = UInt64(index)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { buffer in
            var count = 0
            Self.appendHex(loopIndex, into: buffer, at: &count)
            buffer[count] = 0x2D
            count += 1
            Self.appendHex(counter, into: buffer, at: &count)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }

    private static func appendHex(_ value: UInt64, into out: UnsafeMutableBufferPointer<UInt8>, at count: inout Int) {
        let digits: StaticString = "0123456789abcdef"
        var shift = max(0, (64 - value.leadingZeroBitCount + 3) / 4 * 4 - 4)
        while true {
            out[count] = digits.utf8Start[Int((value >> UInt64(shift)) & 0xF)]
            count += 1
            if shift == 0 { break }
            shift -= 4
        }
    }
}
