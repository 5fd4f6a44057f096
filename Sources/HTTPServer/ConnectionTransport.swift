import Sockets

/// `SessionTransport` on a socket connection: its output buffer, deadlines and lingering close.
final class ConnectionTransport: SessionTransport {
    let connection: Connection

    init(connection: Connection) { self.connection = connection }

    var peer: String { connection.peer }
    var executor: any SessionExecutor { connection.loop.eventLoop }
    var now: UInt64 { connection.loop.now }
    var limits: HTTPServer.Limits { connection.loop.core.configuration.limits }
    var responder: Responder { Responder(core: connection.loop.core) }
    var pendingOutput: Int { connection.out.count - connection.outSent }
    var outputHighWater: Int { Connection.outputHighWater }
    var isOpen: Bool { connection.phase == .open }

    func append(_ bytes: UnsafeRawBufferPointer) { connection.out.append(contentsOf: bytes) }

    func flush() {
        guard connection.phase == .open else { return }
        connection.flush()
        connection.updateDeadline()
    }

    /// With a lingering close, so a client still sending never turns the last frames into a reset.
    func closeAfterFlush() {
        guard connection.phase == .open else { return }
        connection.closeAfterFlush = true
        connection.stopParsing = true
        connection.setReading(false)
        connection.flush()
    }

    func close() { connection.closeNow() }

    func noteActivity() {
        connection.idleSince = connection.loop.now
        connection.updateDeadline()
    }

    func requestID(for request: HTTPRequest) -> String { connection.requestID(for: request) }

    func logAccess(_ request: HTTPRequest, status: Int, bytes: Int, started: UInt64) {
        connection.logAccess(method: request.method, path: request.path, id: request.id, status: status,
                             bytes: bytes, started: started, protocol: request.version)
    }
}
