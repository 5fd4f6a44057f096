import HTTPServer

/// HTTP/2 over cleartext (h2c) for `HTTPServer`, on the same port as HTTP/1.1: a connection that opens with
/// the HTTP/2 preface (prior knowledge) or asks for `Upgrade: h2c` is handed to an nghttp2 session, and its
/// streams go to the same routes and handlers.
///
/// ```swift
/// let server = try HTTPServer(configuration: config, router: router, logger: logger, sessions: HTTP2())
/// ```
public struct HTTP2: ProtocolSessionFactory {
    /// Limits and windows; each protects the server from one kind of abusive peer.
    public var limits: Limits

    /// HTTP/2 on the default limits.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, RFC 9113 §3.4.
    public static let clientPreface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// The HTTP/2 client preface.
    public var preface: [UInt8] { Self.clientPreface }
    /// HTTP/2 over cleartext answers `Upgrade: h2c`.
    public var upgradeToken: String? { "h2c" }

    /// A session for a connection that sent the preface.
    public func makeSession(transport: any SessionTransport) -> any ProtocolSession {
        HTTP2Session(transport: transport, limits: limits)
    }

    /// A session for an `Upgrade: h2c` request; nil when its `HTTP2-Settings` is missing or malformed.
    public func makeUpgradedSession(transport: any SessionTransport, request: HTTPRequest) -> (any ProtocolSession)? {
        guard let encoded = request.headers["http2-settings"], let settings = Base64URL.decode(encoded) else { return nil }
        let session = HTTP2Session(transport: transport, limits: limits)
        guard session.upgrade(settings: settings, request: request) else { return nil }
        return session
    }
}

extension HTTP2 {
    /// Per-connection limits with their defaults. Breaking one ends the connection with a GOAWAY naming why.
    public struct Limits: Sendable {
        /// Streams open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused with REFUSED_STREAM. Default 100.
        public var maxConcurrentStreams: Int = 100
        /// Decoded request header list in bytes (names + values + 32 each, RFC 9113 §6.5.2); beyond it the
        /// connection ends with ENHANCE_YOUR_CALM (the HPACK-bomb guard). Default 16 KiB.
        public var maxHeaderListBytes: Int = 16 * 1024
        /// Each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE). Default 256 KiB.
        public var streamWindow: Int = 256 * 1024
        /// The connection's receive window. Default 1 MiB.
        public var connectionWindow: Int = 1 << 20
        /// RST_STREAMs a client may send in a burst (CVE-2023-44487, rapid reset); beyond it and the rate
        /// below, GOAWAY with ENHANCE_YOUR_CALM. Default 200.
        public var resetBurst: Int = 200
        /// RST_STREAMs per second once the burst is spent. Default 33.
        public var resetsPerSecond: Int = 33
        /// CONTINUATION frames after one HEADERS; beyond, GOAWAY ENHANCE_YOUR_CALM (the CONTINUATION-flood
        /// guard). Default 8.
        public var maxContinuations: Int = 8
        /// SETTINGS and PING frames (not ACKs) a client may send in a burst; beyond it and the rate below,
        /// GOAWAY ENHANCE_YOUR_CALM (the SETTINGS/PING-flood guard against a peer that reads its ACKs).
        /// Default 200.
        public var controlFrameBurst: Int = 200
        /// SETTINGS and PING frames per second once the burst is spent. Default 50.
        public var controlFramesPerSecond: Int = 50
        /// ACKs (SETTINGS, PING) and RST_STREAMs that may wait unsent, for a peer that floods without
        /// reading; beyond, GOAWAY ENHANCE_YOUR_CALM. Bounds what one connection holds. Default 1000.
        public var maxQueuedAcks: Int = 1000
        /// Entries in one SETTINGS frame; beyond, GOAWAY ENHANCE_YOUR_CALM. Default 32.
        public var maxSettingsEntries: Int = 32

        /// The defaults above.
        public init() {}
    }
}
