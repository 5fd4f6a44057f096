import Logging

/// A `SessionTransport` with no socket: the session's output collects in memory for the test (or fuzzer)
/// to read, the clock moves only when told, and handlers run on a `ManualExecutor`. HTTPServer's own
/// harness for driving a `ProtocolSession` byte by byte, as hummingbird ships one for its routers.
///
/// ```swift
/// let transport = try MemoryTransport(router: router)
/// let session = HTTP2().makeSession(transport: transport)
/// session.start(initial: [])
/// preface.withUnsafeBytes { session.receive($0) }
/// transport.runHandlers()
/// let bytes = transport.takeOutput()
/// ```
public final class MemoryTransport: SessionTransport {
    /// Where the transport stands: open, closing once its output is taken, or closed.
    public enum State: Equatable, Sendable { case open, closingAfterFlush, closed }

    /// Runs the handlers; `runHandlers()` drives it.
    public let manualExecutor = ManualExecutor()
    /// The clock the session reads, in nanoseconds; tests move it forward.
    public var now: UInt64 = 1_000_000_000
    public let limits: HTTPServer.Limits
    public let responder: Responder
    public let peer = "memory"
    /// The session's output not yet taken by the peer.
    public private(set) var pending: [UInt8] = []
    /// While false the peer reads nothing and output stays `pending` (a client that never reads).
    public var peerReads = true
    /// The backpressure mark the session must respect. Default 256 KiB, as on a socket.
    public var outputHighWater = 256 * 1024
    public private(set) var state = State.open
    /// The most bytes ever pending at once: how much a session made the transport hold.
    public private(set) var peakPending = 0
    /// The clock at the last `noteActivity`.
    public private(set) var lastActivity: UInt64 = 0
    /// Each access-log line as (method path, status, request id, protocol).
    public private(set) var accessLog: [(line: String, status: Int, id: String, version: HTTPVersion)] = []
    private var delivered: [UInt8] = []
    private var requestCount = 0

    /// A transport whose sessions answer with `router`; `limits` as a server would have them.
    public init(router: Router, limits: HTTPServer.Limits = HTTPServer.Limits(),
                logger: Logger = Logger(label: "celeriac.memory-transport")) throws(HTTPServerError)
    {
        self.limits = limits
        responder = try Responder(router: router, logger: logger)
    }

    public var executor: any SessionExecutor { manualExecutor }
    public var pendingOutput: Int { pending.count }
    public var isOpen: Bool { state != .closed }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed else { return }
        pending.append(contentsOf: bytes)
        peakPending = max(peakPending, pending.count)
    }

    public func flush() {
        guard peerReads, state != .closed else { return }
        delivered.append(contentsOf: pending)
        pending.removeAll()
        if state == .closingAfterFlush { state = .closed }
    }

    public func closeAfterFlush() {
        guard state == .open else { return }
        state = .closingAfterFlush
        flush()
    }

    public func close() { state = .closed }

    public func noteActivity() { lastActivity = now }

    public func requestID(for request: HTTPRequest) -> String {
        if let given = Connection.clientRequestID(request) { return given }
        requestCount += 1
        return "memory-\(requestCount)"
    }

    public func logAccess(_ request: HTTPRequest, status: Int, bytes: Int, started: UInt64) {
        accessLog.append(("\(request.method.rawValue) \(request.path)", status, request.id, request.version))
    }

    /// Runs handler tasks and their completions until none is left.
    @discardableResult
    public func runHandlers() -> Int { manualExecutor.run() }

    /// The bytes the peer has read since the last call (after a `flush` with `peerReads`).
    public func takeOutput() -> [UInt8] {
        defer { delivered.removeAll() }
        return delivered
    }
}
