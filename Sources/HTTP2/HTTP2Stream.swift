import HTTPServer

/// One request/response exchange on an HTTP/2 connection. Confined to the connection's loop thread.
final class HTTP2Stream {
    let id: Int32
    var method = ""
    var target = ""
    var authority: String?
    var headers = HTTPHeaders()
    /// `headers` holds the request's own list (later lists are trailers).
    var hasFields = false
    /// The request has a `host` field of its own (else `:authority` stands for it).
    var sawHost = false
    var headerBytes = 0
    var body: [UInt8] = []
    /// The body passed the server's limit: the rest is discarded and the answer is 413.
    var tooLarge = false
    var request: HTTPRequest?
    var task: Task<Void, Never>?
    var started: UInt64

    // The response body, as nghttp2's data callback pulls it.
    var output: [UInt8] = []
    var outputSent = 0
    /// No more body will be added (the response is complete, or the stream failed).
    var ended = false
    /// nghttp2 was told to wait for more body (`NGHTTP2_ERR_DEFERRED`).
    var deferred = false
    var status = 0
    var bytes = 0
    /// A streaming handler waiting for the queued body to drain.
    var writer: CheckedContinuation<Void, any Error>?

    init(id: Int32, now: UInt64) {
        self.id = id
        started = now
    }

    var unsent: Int { output.count - outputSent }
}

/// Carries the loop-confined session into a handler task that runs on, and reports back to, the same loop.
struct SessionReference: @unchecked Sendable {
    let session: HTTP2Session
    let stream: HTTP2Stream
}
