import Logging
import Sockets
import Synchronization

/// An HTTP/1.1 server on POSIX sockets and epoll: one event loop per core, async handlers that
/// never block a loop, strict parsing, limits, timeouts and graceful shutdown.
///
/// ```swift
/// var router = Router()
/// router.add(.get, "/hello") { _ in .text("hello") }
/// let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: router, logger: logger)
/// try server.start()                 // binds and starts serving; server.port is the bound port
/// Task { try await server.run() }    // returns once the server has stopped
/// …
/// await server.shutdown(grace: 10)   // stop accepting, finish in-flight requests, close, return
/// ```
public final class HTTPServer: Sendable {
    private enum State {
        case created
        case running(loops: [ServerLoop], port: Int)
        case stopping(port: Int)
        case stopped(port: Int)
    }

    public let configuration: Configuration
    let core: ServerCore
    /// Where the listeners and connections live: `configuration.threads` loops of it.
    let group: EventLoopGroup
    private let state = Mutex(State.created)

    /// Validates the configuration and the routes; nothing is bound yet. `sessions` lets connections switch
    /// to another protocol on the same port (the app passes HTTP/2's factory; nil serves HTTP/1.1 only).
    public init(configuration: Configuration = Configuration(), router: Router,
                logger: Logger = Logger(label: "celeriac.http"), group: EventLoopGroup = .shared,
                sessions: (any ProtocolSessionFactory)? = nil) throws(HTTPServerError)
    {
        self.group = group
        try configuration.validate()
        let compiled = try CompiledRouter(router)
        self.configuration = configuration
        core = ServerCore(configuration: configuration, router: compiled, logger: logger, sessions: sessions)
    }

    /// The bound port after `start()` (the configured port before).
    public var port: Int {
        state.withLock { state in
            switch state {
            case .created: configuration.port
            case .running(_, let port), .stopping(let port), .stopped(let port): port
            }
        }
    }

    /// Binds one `SO_REUSEPORT` listener per loop and registers each on its loop (starting loop threads the
    /// group does not run yet). Calling it again does nothing.
    public func start() throws {
        try state.withLock { state in
            guard case .created = state else { return }
            let count = configuration.threads
            let first = try ListeningSocket.bind(host: configuration.host, port: configuration.port,
                                                 backlog: Int32(configuration.backlog), reusePort: count > 1)
            var listeners = [first]
            for _ in 1..<max(count, 1) {
                listeners.append(try ListeningSocket.bind(host: configuration.host, port: first.port,
                                                          backlog: Int32(configuration.backlog), reusePort: true))
            }
            let eventLoops = try group.loops(listeners.count)
            let loops = listeners.enumerated().map {
                ServerLoop(index: $0.offset, core: core, listener: $0.element, eventLoop: eventLoops[$0.offset])
            }
            core.loopsStarting(loops.count)
            for loop in loops { loop.execute { loop.start() } }
            state = .running(loops: loops, port: first.port)
            core.logger.info("HTTP server listening on \(first.address) with \(count) event loop(s)")
        }
    }

    /// Starts if needed, then waits until the server has stopped (after `shutdown`). Cancelling the
    /// calling task shuts down gracefully with `grace` seconds, as a lifecycle `Service` must.
    public func run(gracefulShutdownOnCancel grace: Double = 10) async throws {
        try start()
        await withTaskCancellationHandler {
            await core.stopped.wait()
        } onCancel: {
            Task { await self.shutdown(grace: grace) }
        }
    }

    /// Like `run()`, blocking the calling thread (for a plain `main` without async).
    public func runBlocking() throws {
        try start()
        core.stopped.waitBlocking()
    }

    /// Stops accepting, closes idle connections, lets in-flight requests finish for up to `grace`
    /// seconds (then cancels their handlers and closes), and returns when every loop has exited.
    public func shutdown(grace: Double = 10) async {
        let loops: [ServerLoop] = state.withLock { state in
            switch state {
            case .created:
                state = .stopped(port: configuration.port)
                core.stopped.open()
                return []
            case .running(let loops, let port):
                state = .stopping(port: port)
                return loops
            case .stopping, .stopped:
                return []  // another caller is stopping it: just wait below
            }
        }
        let forceAfter = MonotonicClock.nanoseconds() + nanoseconds(grace)
        for loop in loops { loop.execute { loop.beginDrain(forceAfter: forceAfter) } }
        await core.stopped.wait()
        state.withLock { state in
            if case .stopping(let port) = state { state = .stopped(port: port) }
        }
    }

    /// Open connections across all loops (refused ones excluded), for metrics and tests.
    public var connectionCount: Int { core.connectionCount }
}
