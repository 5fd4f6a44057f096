import Logging
import Sockets

/// The transport half of a connection as a `ProtocolSession` sees it: where its output goes, its clock,
/// limits, routes and access log. The socket one (`ConnectionTransport`) has a socket, buffers, deadlines
/// and backpressure; `MemoryTransport` keeps the bytes in memory, so a session can be driven frame by frame
/// with no socket (unit tests, fuzzing). Confined to one thread (the connection's loop).
public protocol SessionTransport: AnyObject {
    /// The peer as `host:port`.
    var peer: String { get }
    /// Where handler tasks run and report back (`execute`): the connection's loop.
    var executor: any SessionExecutor { get }
    /// A monotonic clock, in nanoseconds.
    var now: UInt64 { get }
    /// The server's limits (the body limit applies per HTTP/2 stream too).
    var limits: HTTPServer.Limits { get }
    /// The routes, callable from any thread.
    var responder: Responder { get }
    /// Bytes queued and not yet taken by the peer.
    var pendingOutput: Int { get }
    /// A session stops producing output while `pendingOutput` is above this (it must not buffer without bound).
    var outputHighWater: Int { get }
    /// Whether the connection is still open.
    var isOpen: Bool { get }
    /// Queues bytes; call `flush` after a batch.
    func append(_ bytes: UnsafeRawBufferPointer)
    /// Sends what the peer takes now; the rest goes out as it becomes writable.
    func flush()
    /// Closes after the queued output is sent.
    func closeAfterFlush()
    /// Closes at once.
    func close()
    /// Something happened on the connection: the idle timeout counts from now.
    func noteActivity()
    /// The client's sane `X-Request-ID`, else a fresh process-unique id (the same rule as HTTP/1.1).
    func requestID(for request: HTTPRequest) -> String
    /// One access-log line, the same as HTTP/1.1 writes, with the protocol named.
    func logAccess(_ request: HTTPRequest, status: Int, bytes: Int, started: UInt64)
}

/// A task executor that can also run a closure in its context: what a session needs from its event loop.
public protocol SessionExecutor: TaskExecutor {
    /// Runs `work` on the executor's thread: inline when already there, else queued.
    func execute(_ work: @escaping @Sendable () -> Void)
    /// Runs `action` once the work ready now is done (the loop's turn ends), on the executor's thread:
    /// output produced for many streams in one turn then leaves in one write. Call it from that thread.
    func atEndOfTurn(_ action: @escaping () -> Void)
}

extension EventLoop: SessionExecutor {}

/// The server's routes as a value a handler task can carry to any thread.
public struct Responder: Sendable {
    let router: CompiledRouter
    /// The server's logger.
    public let logger: Logger

    init(core: ServerCore) {
        router = core.router
        logger = core.logger
    }

    /// Routes of their own, validated as `HTTPServer` validates them (for sessions driven without a server).
    public init(router: Router, logger: Logger) throws(HTTPServerError) {
        self.router = try CompiledRouter(router)
        self.logger = logger
    }

    /// Routes `request` and runs its handler (errors become problem+json, as over HTTP/1.1).
    public nonisolated(nonsending) func respond(to request: HTTPRequest) async -> HTTPResponse {
        await router.respond(to: request, logger: logger)
    }
}
