extension HTTPServer {
    /// Where to listen, how many event loops, and every limit, with documented defaults.
    ///
    /// ```swift
    /// var config = HTTPServer.Configuration(host: "0.0.0.0", port: 8080)
    /// config.limits.maxBodyBytes = 256 * 1024
    /// config.timeouts.idle = 30
    /// ```
    public struct Configuration: Sendable {
        /// A literal IPv4/IPv6 address or a host name; `"::"` listens on both families.
        public var host: String
        /// 0 lets the kernel choose; read `HTTPServer.port` after `start()`.
        public var port: Int
        /// Event-loop threads, each with its own `SO_REUSEPORT` listener. Default: one per CPU core.
        public var threads: Int
        /// The kernel's accept backlog per listener. Default 1024.
        public var backlog: Int
        public var limits: Limits
        public var timeouts: Timeouts
        /// One info-level line per response (method, path, status, bytes, duration, request id).
        /// Skipped entirely when false or when the logger's level is above info. Default true.
        public var accessLog: Bool

        public init(host: String = "127.0.0.1", port: Int = 8080, threads: Int? = nil, backlog: Int = 1024,
                    limits: Limits = Limits(), timeouts: Timeouts = Timeouts(), accessLog: Bool = true)
        {
            self.host = host
            self.port = port
            self.threads = threads ?? SystemInfo.coreCount
            self.backlog = backlog
            self.limits = limits
            self.timeouts = timeouts
            self.accessLog = accessLog
        }

        func validate() throws(HTTPServerError) {
            guard (0...65535).contains(port) else { throw HTTPServerError("port \(port) is not in 0...65535") }
            guard (1...256).contains(threads) else { throw HTTPServerError("threads \(threads) is not in 1...256") }
            guard backlog > 0 else { throw HTTPServerError("backlog \(backlog) must be positive") }
            try limits.validate()
            try timeouts.validate()
        }
    }

    /// Size and count limits; each refusal is answered with problem+json and then the connection closes.
    public struct Limits: Sendable {
        /// Request line plus header fields, in bytes → 431. Default 16 KiB.
        public var maxHeaderBytes: Int = 16 * 1024
        /// Header fields per request → 431. Default 100.
        public var maxHeaderCount: Int = 100
        /// Request body bytes → 413 (before `100 Continue` is sent). Default 1 MiB.
        public var maxBodyBytes: Int = 1 << 20
        /// Open connections across all loops; beyond it a new connection gets 503 and is closed. Default 10,000.
        public var maxConnections: Int = 10_000
        /// Requests received on one connection and not yet answered (the one being handled included);
        /// one more is answered 429 in its turn and the connection closes. Default 16.
        public var maxPipelinedRequests: Int = 16

        public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 100, maxBodyBytes: Int = 1 << 20,
                    maxConnections: Int = 10_000, maxPipelinedRequests: Int = 16)
        {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
            self.maxConnections = maxConnections
            self.maxPipelinedRequests = maxPipelinedRequests
        }

        var parser: HTTPParser.Limits {
            HTTPParser.Limits(maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount, maxBodyBytes: maxBodyBytes)
        }

        func validate() throws(HTTPServerError) {
            for (name, value) in [("maxHeaderBytes", maxHeaderBytes), ("maxHeaderCount", maxHeaderCount),
                                  ("maxConnections", maxConnections), ("maxPipelinedRequests", maxPipelinedRequests)]
            where value < 1 {
                throw HTTPServerError("limits.\(name) is \(value); it must be at least 1")
            }
            // The parser keeps header positions in 32 bits (`ReceivedFields`): a head stays far below that.
            guard maxHeaderBytes <= 1 << 30 else {
                throw HTTPServerError("limits.maxHeaderBytes is \(maxHeaderBytes); it must be at most 1 GiB")
            }
            guard maxBodyBytes >= 0 else { throw HTTPServerError("limits.maxBodyBytes is \(maxBodyBytes); it must not be negative") }
        }
    }

    /// Timeouts in seconds. A read timeout with part of a request received is answered 408, then closed.
    public struct Timeouts: Sendable {
        /// From a request's first byte (or from accept) to its complete head: the slowloris guard. Default 10 s.
        public var header: Double = 10
        /// From a complete head to a complete body. Default 30 s.
        public var body: Double = 30
        /// A keep-alive connection with nothing in flight is closed after this. Default 60 s.
        public var idle: Double = 60
        /// A response the client does not read for this long closes the connection. Default 30 s.
        public var write: Double = 30
        /// After the server closes its side, how long it keeps reading and discarding so the client sees
        /// the last response rather than a reset. Default 2 s.
        public var linger: Double = 2
        /// How long a graceful shutdown lets in-flight requests finish before cancelling them
        /// (when run as a lifecycle `Service`). Default 10 s.
        public var shutdownGrace: Double = 10

        public init(header: Double = 10, body: Double = 30, idle: Double = 60, write: Double = 30, linger: Double = 2) {
            self.header = header
            self.body = body
            self.idle = idle
            self.write = write
            self.linger = linger
        }

        func validate() throws(HTTPServerError) {
            for (name, value) in [("header", header), ("body", body), ("idle", idle), ("write", write), ("linger", linger)]
            where !(value > 0 && value < 1e6) {
                throw HTTPServerError("timeouts.\(name) is \(value); it must be a positive number of seconds")
            }
        }
    }
}
