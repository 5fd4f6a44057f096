import Logging
import Synchronization

/// What the event loops share: configuration, routes, logger, and process-wide counters.
final class ServerCore: Sendable {
    let configuration: HTTPServer.Configuration
    let router: CompiledRouter
    let logger: Logger
    /// Another protocol a connection may switch to (HTTP/2), wired in by the app.
    let sessions: (any ProtocolSessionFactory)?
    /// Whether access-log lines are produced at all (decided once, off the hot path).
    let accessLog: Bool
    let parserLimits: HTTPParser.Limits
    let headerTimeout: UInt64
    let bodyTimeout: UInt64
    let idleTimeout: UInt64
    let writeTimeout: UInt64
    let lingerTimeout: UInt64
    /// How often at most the loop scans connections for passed deadlines.
    let timerGranularity: UInt64

    private let openConnections = Atomic<Int>(0)
    private let runningLoops = Atomic<Int>(0)
    let stopped = Latch()

    init(configuration: HTTPServer.Configuration, router: CompiledRouter, logger: Logger,
         sessions: (any ProtocolSessionFactory)? = nil)
    {
        self.sessions = sessions
        self.configuration = configuration
        self.router = router
        self.logger = logger
        accessLog = configuration.accessLog && logger.logLevel <= .info
        parserLimits = configuration.limits.parser
        let t = configuration.timeouts
        headerTimeout = nanoseconds(t.header)
        bodyTimeout = nanoseconds(t.body)
        idleTimeout = nanoseconds(t.idle)
        writeTimeout = nanoseconds(t.write)
        lingerTimeout = nanoseconds(t.linger)
        let shortest = [t.header, t.body, t.idle, t.write, t.linger].min() ?? 1
        timerGranularity = nanoseconds(min(max(shortest / 10, 0.005), 0.25))
    }

    /// Takes one of `maxConnections` slots; false when all are taken.
    func reserveConnection() -> Bool {
        let count = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if count > configuration.limits.maxConnections {
            openConnections.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func releaseConnection() { openConnections.wrappingSubtract(1, ordering: .relaxed) }

    var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    func loopsStarting(_ count: Int) { runningLoops.store(count, ordering: .sequentiallyConsistent) }

    func loopExited() {
        if runningLoops.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue == 0 { stopped.open() }
    }
}

/// A one-shot gate: waiters (async or blocking) pass once it is opened.
final class Latch: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let condition = Condition()

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        condition.broadcast()
        for waiter in waiters { waiter.resume() }
    }

    var isOpen: Bool { state.withLock { $0.open } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func waitBlocking() { condition.wait { isOpen } }
}
