/// One complete request as the parser produced it: head, path split from query, and the whole body.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path of the request target, still percent-encoded, without the query.
    public var path: String
    /// Query parameters, percent-decoded (`+` is a space); the last of duplicate keys wins.
    public var query: [String: String]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The peer as `host:port` (`[host]:port` for IPv6).
    public var remoteAddress: String
    public var version: HTTPVersion
    /// Values of the `{name}` segments of the matched route, percent-decoded.
    public var pathParameters: [String: String]
    /// The client's `X-Request-ID` when it sent a sane one, else an id unique within this process.
    public var id: String
    /// Whether the connection may stay open after this request (HTTP/1.1 default, `Connection`).
    public internal(set) var keepAlive: Bool

    public init(method: HTTPMethod, path: String, query: [String: String] = [:], headers: HTTPHeaders = [:],
                body: [UInt8] = [], remoteAddress: String = "", version: HTTPVersion = .http1_1,
                pathParameters: [String: String] = [:], id: String = "", keepAlive: Bool = true)
    {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.version = version
        self.pathParameters = pathParameters
        self.id = id
        self.keepAlive = keepAlive
    }
}
