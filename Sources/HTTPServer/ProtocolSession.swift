import Sockets

/// A protocol a connection switches to from HTTP/1.1 (HTTP/2 after its preface or an `Upgrade`), kept
/// behind this protocol so that HTTPServer carries no HTTP/2 code. Confined to the connection's loop thread.
public protocol ProtocolSession: AnyObject {
    /// Called once the session is installed, with the bytes already received for it (may be empty).
    func start(initial: UnsafeRawBufferPointer)
    /// Bytes just read from the peer.
    func receive(_ bytes: UnsafeRawBufferPointer)
    /// The transport's output drained: produce more if there is any.
    func transportWritable()
    /// Graceful shutdown began: refuse new streams, finish the ones in flight, then close.
    func drain()
    /// The connection is closed (peer gone, error, or grace over): cancel whatever still runs.
    func closed()
    /// Nothing in flight, so the idle timeout applies.
    var isIdle: Bool { get }
    /// Idle past the idle timeout: say goodbye in the protocol's terms (HTTP/2: GOAWAY NO_ERROR) and close
    /// once that is sent. Called again if the connection is still open an idle period later: close then.
    func idleTimedOut()
}

/// Makes sessions for connections that choose another protocol; the app hands one to `HTTPServer`.
public protocol ProtocolSessionFactory: Sendable {
    /// The bytes that open a connection in this protocol (HTTP/2's client connection preface).
    var preface: [UInt8] { get }
    /// The `Upgrade` token this protocol answers (`h2c`), or nil for none.
    var upgradeToken: String? { get }
    /// A session for a connection that began with `preface`.
    func makeSession(transport: any SessionTransport) -> any ProtocolSession
    /// A session for a connection upgraded by `request`, or nil to answer it as plain HTTP/1.1 instead
    /// (e.g. a malformed `HTTP2-Settings`). The server sends `101 Switching Protocols` before `start`.
    func makeUpgradedSession(transport: any SessionTransport, request: HTTPRequest) -> (any ProtocolSession)?
}
