/// What a handler returns: a status, header fields and a body, or a streamed body.
///
/// `Content-Length`, `Date` and `Connection` are written by the server; a handler need not set them.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// When set, the body is produced by this closure and sent chunked (HTTP/1.1) after the head.
    public var stream: (@Sendable (BodyWriter) async throws -> Void)?

    public init(status: Int = 200, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int = 200, headers: [(String, String)], body: [UInt8] = []) {
        self.init(status: status, headers: HTTPHeaders(headers), body: body)
    }

    /// A response whose body is written piece by piece with `Transfer-Encoding: chunked`.
    public static func streaming(status: Int = 200, headers: HTTPHeaders = [:],
                                 _ body: @escaping @Sendable (BodyWriter) async throws -> Void) -> HTTPResponse
    {
        var response = HTTPResponse(status: status, headers: headers)
        response.stream = body
        return response
    }

    /// A JSON body already encoded by the caller.
    public static func json(status: Int = 200, bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: bytes)
    }

    /// A plain-text body.
    public static func text(status: Int = 200, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// An RFC 9457 `application/problem+json` body:
    /// `{"type":"about:blank","title":…,"status":…,"detail":…,"field":…}` (detail and field when given).
    public static func problem(status: Int, title: String? = nil, detail: String? = nil, field: String? = nil) -> HTTPResponse {
        HTTPError(status: status, title: title, detail: detail, field: field).response
    }
}

/// Writes the pieces of a streamed response body; each `write` waits while the client is slow to read.
public struct BodyWriter: Sendable {
    let send: @Sendable ([UInt8]) async throws -> Void

    init(sink: StreamSink) { send = { try await sink.write($0) } }

    /// A writer over another transport (an HTTP/2 stream): `send` queues one piece and waits while it is full.
    public init(send: @escaping @Sendable ([UInt8]) async throws -> Void) { self.send = send }

    /// Sends `bytes` as one chunk; throws when the connection is gone.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await send(bytes)
    }

    /// Sends the UTF-8 of `text` as one chunk.
    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }
}
