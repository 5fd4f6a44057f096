import CCurl

/// HTTP(S) requests for tasks, on libcurl: redirects followed, certificates checked, a total timeout.
/// A request waits in the process's one `poll(2)` loop (`TransferEngine`), so a task blocked on a slow
/// server costs no CPU (Foundation's URLSession on Linux spins ~0.8 of a core per waiting request).
///
/// ```swift
/// app.task("myapp.status", parameters: ["url"]) { args, _ in
///     .int(Int64(try await HTTPClient().get(try args.string("url")).status))
/// }
/// ```
public struct HTTPClient: Sendable {
    /// Limits and trust; the defaults suit a task calling a public API.
    public struct Configuration: Sendable {
        /// Seconds for the whole exchange, redirects included. Default 30.
        public var timeout: Double = 30
        /// Seconds to establish a connection (TCP and TLS). Default 10.
        public var connectTimeout: Double = 10
        /// Redirects followed before giving up. Default 10.
        public var maxRedirects: Int = 10
        /// Bytes of response body kept; a larger body fails the request. Default 8 MiB.
        public var maxResponseBytes: Int = 8 << 20
        /// Sent as `User-Agent`.
        public var userAgent: String = "celeriac/0.1"
        /// A PEM file of CA certificates to trust instead of the system's (for tests, private CAs).
        public var caFile: String?

        /// The documented defaults.
        public init() {}
    }

    /// An HTTP response: the final one after redirects.
    public struct Response: Sendable {
        /// The status code (200, 404, …).
        public var status: Int
        /// Header fields as received, in order.
        public var headers: [(name: String, value: String)]
        /// The body, at most `maxResponseBytes`.
        public var body: [UInt8]
        /// The URL that answered, after redirects.
        public var url: String

        /// The body decoded as UTF-8.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The limits and trust this client applies.
    public var configuration: Configuration

    /// A client with `configuration` (the defaults when omitted).
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// GET `url`. Throws `OutboundError` when no response arrives; any status, 4xx and 5xx too, is a response.
    public func get(_ url: String, headers: [(String, String)] = []) async throws -> Response {
        try await send("GET", url, headers: headers)
    }

    /// Any method, with an optional body (sent with the given headers, e.g. `Content-Type`).
    public func send(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> Response {
        let operation = "\(method) \(Redacted.url(url))"
        let scheme = url.prefix(while: { $0 != ":" }).lowercased()
        guard ["http", "https"].contains(scheme), url.contains("://") else {
            throw OutboundError(.other, operation: operation, detail: "not an http(s) URL")
        }
        let transfer = try Transfer(operation: operation, maxResponseBytes: configuration.maxResponseBytes)
        transfer.set(CURLOPT_URL, url)
        transfer.set(CURLOPT_PROTOCOLS_STR, "http,https")
        transfer.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        transfer.set(CURLOPT_FOLLOWLOCATION, 1)
        transfer.set(CURLOPT_MAXREDIRS, configuration.maxRedirects)
        transfer.set(CURLOPT_USERAGENT, configuration.userAgent)
        transfer.applyCommon(timeout: configuration.timeout, connectTimeout: configuration.connectTimeout, caFile: configuration.caFile)
        switch (method, body) {
        case ("GET", nil): break
        case ("HEAD", _): transfer.set(CURLOPT_NOBODY, 1)
        default:
            transfer.set(CURLOPT_CUSTOMREQUEST, method)
            if let body { transfer.setBody(body) }
        }
        transfer.set(CURLOPT_HTTPHEADER, list: headers.map { "\($0.0): \($0.1)" })
        let done = try await transfer.perform()
        return Response(status: done.code, headers: done.headers.map { (name: $0.0, value: $0.1) }, body: done.body, url: done.effectiveURL)
    }
}

extension Transfer {
    /// Timeouts and certificate checks every transfer gets: peer and host verified, always.
    func applyCommon(timeout: Double, connectTimeout: Double, caFile: String?) {
        set(CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout))
        set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(connectTimeout))
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile { set(CURLOPT_CAINFO, caFile) }
    }

    /// Seconds to curl's milliseconds, clamped (a NaN or huge value must not trap): 1 ms to 1 day.
    static func milliseconds(_ seconds: Double) -> Int {
        guard seconds.isFinite, seconds > 0 else { return 1 }
        return Int(min(seconds, 86_400) * 1000)
    }

    /// A request body; curl copies it.
    func setBody(_ body: [UInt8]) {
        set(CURLOPT_POSTFIELDSIZE, body.count)
        if body.isEmpty { return set(CURLOPT_COPYPOSTFIELDS, "") }
        _ = body.withUnsafeBytes { celeriac_curl_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
    }
}

/// URLs with their password removed, for errors and receipts.
enum Redacted {
    /// `smtp://user:secret@host:587` → `smtp://user@host:587`.
    static func url(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let stops: Set<Character> = ["/", "?", "#"]
        let authorityEnd: String.Index = rest.firstIndex(where: { stops.contains($0) }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        let user = authority[..<at].prefix(while: { $0 != ":" })
        return String(url[..<schemeEnd.upperBound]) + user + String(rest[at...])
    }
}
