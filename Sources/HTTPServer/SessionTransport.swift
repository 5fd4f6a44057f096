import Logging
import Sockets

/// The transport half of a connection (socket, output buffer, deadlines, backpressure) as a
/// `ProtocolSession` sees it. Confined to the connection's loop thread.
public final class SessionTransport {
    let connection: Connection

    init(connection: Connection) { self.connection = connection }

    /// The peer as `host:port`.
    public var peer: String { connection.peer }
    /// The loop the connection lives on: handler tasks prefer it and report back through `execute`.
    public var eventLoop: EventLoop { connection.loop.eventLoop }
    /// The loop's monotonic clock, in nanoseconds.
    public var now: UInt64 { connection.loop.now }
    /// The server's limits (the body limit applies per HTTP/2 stream too).
    public var limits: HTTPServer.Limits { connection.loop.core.configuration.limits }
    /// The routes, callable from any thread.
    public var responder: Responder { Responder(core: connection.loop.core) }
    /// Bytes queued and not yet taken by the kernel.
    public var pendingOutput: Int { connection.out.count - connection.outSent }
    /// A session stops producing output while `pendingOutput` is above this.
    public static let highWater = Connection.outputHighWater
    /// Whether the connection is still open.
    public var isOpen: Bool { connection.phase == .open }

    /// Queues bytes; call `flush` after a batch.
    public func append(_ bytes: UnsafeRawBufferPointer) { connection.out.append(contentsOf: bytes) }

    /// Sends what the kernel takes now; the rest goes out as the socket becomes writable.
    public func flush() {
        guard connection.phase == .open else { return }
        connection.flush()
        connection.updateDeadline()
    }

    /// Closes after the queued output is sent (with a lingering close).
    public func closeAfterFlush() {
        guard connection.phase == .open else { return }
        connection.closeAfterFlush = true
        connection.stopParsing = true
        connection.setReading(false)
        connection.flush()
    }

    /// Closes at once.
    public func close() { connection.closeNow() }

    /// Something happened on the connection: the idle timeout counts from now.
    public func noteActivity() {
        connection.idleSince = connection.loop.now
        connection.updateDeadline()
    }

    /// The client's sane `X-Request-ID`, else a fresh process-unique id.
    public func requestID(for request: HTTPRequest) -> String { connection.requestID(for: request) }

    /// One access-log line, the same as HTTP/1.1 writes, with the protocol named.
    public func logAccess(_ request: HTTPRequest, status: Int, bytes: Int, started: UInt64) {
        connection.logAccess(method: request.method, path: request.path, id: request.id, status: status,
                             bytes: bytes, started: started, protocol: request.version)
    }
}

/// The server's routes as a value a handler task can carry to any thread.
public struct Responder: Sendable {
    let core: ServerCore

    /// Routes `request` and runs its handler (errors become problem+json, as over HTTP/1.1).
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        await core.router.respond(to: request, logger: core.logger)
    }

    /// The server's logger.
    public var logger: Logger { core.logger }
}
