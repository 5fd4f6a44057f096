import Glibc
import Logging
import Sockets

/// One server's share of one event loop: its listener, its connections, their deadlines, and its
/// part in a graceful shutdown. The loop thread itself is shared (with other servers and with Redis
/// connections), so a server that stops leaves the loop running; it only reports, through `core`,
/// that its connections are gone.
///
/// Confined to the loop thread, except `init`.
final class ServerLoop: EventHandler, @unchecked Sendable {
    let index: Int
    let core: ServerCore
    let eventLoop: EventLoop
    private var listener: ListeningSocket?

    private var connections: [Int32: Connection] = [:]
    private(set) var openCount = 0
    private var refusingCount = 0
    private var acceptPausedUntil: UInt64 = 0
    var encoder = ResponseEncoder()
    private var nextTimerCheck = UInt64.max
    private var timer: LoopTimer?
    private(set) var draining = false
    private var finished = false
    private var requestCounter: UInt64 = 0

    /// Refusing connections (over `maxConnections`) answered at once per loop; beyond, plain close.
    static let maxRefusing = 64

    init(index: Int, core: ServerCore, listener: ListeningSocket, eventLoop: EventLoop) {
        self.index = index
        self.core = core
        self.listener = listener
        self.eventLoop = eventLoop
    }

    var now: UInt64 { eventLoop.now }
    var readBuffer: UnsafeMutableRawBufferPointer { eventLoop.scratch }

    /// Registers the listener (on the loop thread).
    func start() {
        guard let listener else { return }
        do {
            try eventLoop.register(listener.fd, events: .readable, handler: self)
        } catch {
            core.logger.error("\(eventLoop.name): cannot watch the listener: \(error)")
        }
    }

    /// Runs `work` on the loop thread (inline when already there).
    func execute(_ work: @escaping @Sendable () -> Void) { eventLoop.execute(work) }

    // MARK: Listener events

    func readable(hangup: Bool) { acceptConnections() }
    func writable() {}
    func failed() { core.logger.error("\(eventLoop.name): the listener reported an error") }

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
                try? eventLoop.modify(listener.fd, events: [])
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
        eventLoop.refreshNow()
        let connection = Connection(loop: self, fd: fd, peer: peer, counted: counted)
        do {
            try eventLoop.register(fd, events: .readable, handler: connection)
        } catch {
            core.logger.error("\(error)")
            StreamIO.close(fd)
            if counted { core.releaseConnection() }
            return
        }
        connections[fd] = connection
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
        if connections[connection.fd] === connection { connections[connection.fd] = nil }
        openCount -= 1
        if connection.counted { core.releaseConnection() } else { refusingCount -= 1 }
        if draining && openCount == 0 { finish() }
    }

    // MARK: Timers

    /// Makes sure the loop wakes by `deadline` to check connection deadlines.
    func scheduleTimer(_ deadline: UInt64) {
        guard deadline < nextTimerCheck else { return }
        nextTimerCheck = deadline
        if let timer { eventLoop.cancelTimer(timer) }
        timer = eventLoop.schedule(at: deadline) { [self] in checkTimers() }
    }

    private func checkTimers() {
        timer = nil
        nextTimerCheck = .max
        if acceptPausedUntil != 0 && now >= acceptPausedUntil {
            acceptPausedUntil = 0
            if let listener, !draining { try? eventLoop.modify(listener.fd, events: .readable) }
        }
        var next = UInt64.max
        for connection in Array(connections.values) {
            if connection.deadline <= now { connection.deadlinePassed() }
            if connection.isOpen && connection.deadline < next { next = connection.deadline }
        }
        if acceptPausedUntil != 0 { next = min(next, acceptPausedUntil) }
        // Scanning is O(connections): never more often than the granularity.
        if next != .max { scheduleTimer(max(next, now + core.timerGranularity)) }
    }

    // MARK: Shutdown

    /// Stops accepting, closes idle connections, lets busy ones finish until `forceAfter` (monotonic ns).
    func beginDrain(forceAfter: UInt64) {
        guard !draining else { return }
        draining = true
        closeListener()
        for connection in Array(connections.values) { connection.drain() }
        if openCount == 0 {
            finish()
        } else {
            eventLoop.schedule(at: forceAfter) { [self] in forceCloseAll() }
        }
    }

    private func closeListener() {
        guard let listener else { return }
        eventLoop.deregister(listener.fd)
        listener.close()
        self.listener = nil
    }

    private func forceCloseAll() {
        for connection in Array(connections.values) { connection.forceClose() }
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        if let timer { eventLoop.cancelTimer(timer) }
        timer = nil
        core.loopExited()
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
