import Glibc
import Logging
import Sockets

/// One client connection, confined to its event loop's thread.
///
/// Requests are parsed as bytes arrive, queued in `pending`, and handled one at a time in order
/// (so pipelined responses come back in order and a pipelined GET sees the effect of an earlier
/// POST). A refusal (`.reject`) takes its turn in the queue, is answered, and closes the connection.
final class Connection: EventHandler {
    // Stored state is internal rather than private only so that the extensions in
    // Connection+Writing.swift and Connection+Closing.swift can reach it; nothing else touches it.
    enum Phase { case open, lingering, closed }
    enum Pending {
        case request(HTTPRequest)
        case reject(HTTPError)
    }

    /// The server's part of the event loop this connection lives on (strong: the loop drops it on close).
    let loop: ServerLoop
    let fd: Int32
    let peer: String
    /// Whether this connection holds one of the `maxConnections` slots (refused ones do not).
    let counted: Bool

    var phase = Phase.open
    var isOpen: Bool { phase != .closed }
    var parser: HTTPParser
    var pending: [Pending] = []
    /// A handler (or a streamed body) is running for `pending[0]`.
    var responding = false
    var task: Task<Void, Never>?
    /// Identifies the request being handled, so a late completion for a closed turn is ignored.
    var sequence: UInt64 = 0
    var respondStart: UInt64 = 0

    var out: [UInt8] = []
    var outSent = 0
    var watching: EpollEvents = .readable
    var readEnabled = true
    /// Reading and new handlers wait while more than `outputHighWater` bytes are unsent: a client
    /// that pipelines without reading cannot make the server buffer responses without bound.
    var outputPaused = false
    /// No more requests are parsed: a final response (reject, Connection: close) is queued.
    var stopParsing = false
    var peerClosed = false
    var closeAfterFlush = false
    var drainRequested = false
    var continueOwed = false
    var servedAny = false

    var idleSince: UInt64
    var requestStart: UInt64
    var bodyStart: UInt64 = 0
    var writeBlockedSince: UInt64 = 0
    var lingerDeadline: UInt64 = 0
    var lingerBytes = 0
    var deadline = UInt64.max

    var streamWaiter: CheckedContinuation<Void, any Error>?
    var streamChunked = false
    var streamClose = false
    var streamBytes = 0

    /// The protocol that took the connection over (HTTP/2); nil while it speaks HTTP/1.1.
    var session: (any ProtocolSession)?
    /// The first bytes, kept while they may still be another protocol's preface; nil once decided.
    var probe: [UInt8]?

    /// Bytes discarded while lingering before giving up and closing. A client refused with 413 for a
    /// body just over the limit typically sends the rest before it reads (curl, most test clients):
    /// closing earlier turns our answer into a reset. The linger deadline bounds the time either way.
    static let maxLingerBytes = 4 * 1024 * 1024
    /// A streaming handler's `write` waits, and reading pauses, while more than this is unsent.
    static let outputHighWater = 256 * 1024

    init(loop: ServerLoop, fd: Int32, peer: String, counted: Bool) {
        self.loop = loop
        self.fd = fd
        self.peer = peer
        self.counted = counted
        parser = HTTPParser(limits: loop.core.parserLimits)
        idleSince = loop.now
        requestStart = loop.now
        if loop.core.sessions != nil { probe = [] }
    }

    func start() { updateDeadline() }

    /// Over the connection limit: answer 503 at once and close.
    func refuse(_ error: HTTPError) {
        stopParsing = true
        setReading(false)
        write(error.response, for: nil, close: true)
        updateDeadline()
    }

    // MARK: Reading

    func readable(hangup: Bool) { onReadable(hangup: hangup) }
    func writable() { onWritable() }
    func failed() { closeNow() }

    func onReadable(hangup: Bool) {
        switch phase {
        case .closed:
            return
        case .lingering:
            discardWhileLingering()
        case .open:
            guard readEnabled else {
                if hangup { closeNow() }
                return
            }
            let result: IOResult<Int>
            do {
                result = try StreamIO.read(fd, into: loop.readBuffer)
            } catch {
                closeNow()
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .done(0):
                peerClosed = true
                stopParsing = true
                setReading(false)
                if !responding && pending.isEmpty { closeNow() } else { updateDeadline() }
            case .done(let count):
                let bytes = UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count])
                if let session {
                    session.receive(bytes)
                    return
                }
                if probe != nil && probeForPreface(bytes) { return }
                if parser.isIdle { requestStart = loop.now }
                parser.feed(bytes)
                processInput()
            }
        }
    }

    func processInput() {
        let maxPipelined = loop.core.configuration.limits.maxPipelinedRequests
        while !stopParsing {
            let event: HTTPParser.Event?
            do {
                event = try parser.next()
            } catch {
                queueFinal(error)
                break
            }
            guard let event else { break }
            switch event {
            case .expectContinue:
                if pending.isEmpty && !responding { sendContinue() } else { continueOwed = true }
            case .request(var request):
                continueOwed = false
                bodyStart = 0
                requestStart = loop.now
                if pending.count >= maxPipelined {
                    queueFinal(HTTPError(status: 429, detail: "more than \(maxPipelined) pipelined requests on one connection"))
                    break
                }
                request.remoteAddress = peer
                request.id = requestID(for: request)
                if upgrade(request) { return }
                pending.append(.request(request))
                if !request.keepAlive {
                    stopParsing = true
                    setReading(false)
                }
            }
        }
        if parser.isReadingBody && bodyStart == 0 { bodyStart = loop.now }
        startNext()
        updateDeadline()
    }

    func queueFinal(_ error: HTTPError) {
        pending.append(.reject(error))
        stopParsing = true
        setReading(false)
    }

    func requestID(for request: HTTPRequest) -> String {
        Self.clientRequestID(request) ?? loop.nextRequestID()
    }

    /// The client's `X-Request-ID` when it is sane: 1–128 visible ASCII characters (any protocol).
    static func clientRequestID(_ request: HTTPRequest) -> String? {
        guard let given = request.headers.firstValue(of: .requestID), (1...128).contains(given.utf8.count),
              given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        return given
    }

    func sendContinue() {
        out.append(contentsOf: ResponseEncoder.continueResponse)
        flush()
    }

    // MARK: Handling

    func startNext() {
        guard !responding, !outputPaused, phase == .open, let first = pending.first else { return }
        switch first {
        case .reject(let error):
            pending.removeFirst()
            logAccess(method: nil, path: nil, id: nil, status: error.status, bytes: 0)
            write(error.response, for: nil, close: true)
        case .request(let request):
            responding = true
            sequence &+= 1
            respondStart = loop.now
            dispatch(request, sequence: sequence)
        }
    }

    func dispatch(_ request: HTTPRequest, sequence: UInt64) {
        let reference = ConnectionReference(connection: self)
        let loop = self.loop.eventLoop
        let router = self.loop.core.router
        let logger = self.loop.core.logger
        // `Task.immediate` runs the handler right here until it first suspends (a handler that
        // never suspends costs no queue round trip); the loop is its preferred executor, so it
        // resumes on this thread too. Calls back into the connection go through `execute`: inline
        // on this thread, queued if ever elsewhere. A completion may run before `Task.immediate`
        // returns, and even start the next pipelined request, hence the check before storing.
        let handle = Task.immediate(executorPreference: loop) {
            let response = await router.respond(to: request, logger: logger)
            if let stream = response.stream, request.method != .head {
                let sink = StreamSink(loop: loop, reference: reference, sequence: sequence)
                loop.execute { reference.connection.beginStream(response, sequence: sequence) }
                var failure: (any Error)?
                do { try await stream(BodyWriter(sink: sink)) } catch { failure = error }
                let failed = failure
                if let failed { logger.error("streamed response failed", metadata: ["request.id": "\(request.id)", "error": "\(failed)"]) }
                loop.execute { reference.connection.endStream(sequence: sequence, failed: failed != nil) }
            } else {
                loop.execute { reference.connection.finish(response, sequence: sequence) }
            }
        }
        if responding && self.sequence == sequence { task = handle }
    }

    var current: HTTPRequest? {
        if case .request(let request)? = pending.first { return request }
        return nil
    }

    /// Whether the connection closes after answering `request`.
    func closes(after request: HTTPRequest, _ response: HTTPResponse) -> Bool {
        if !request.keepAlive || peerClosed && pending.count <= 1 { return true }
        if drainRequested && pending.count <= 1 && parser.isIdle { return true }
        if let value = response.headers["connection"], value.lowercased().contains("close") { return true }
        return false
    }

    func finish(_ response: HTTPResponse, sequence: UInt64) {
        guard phase == .open, responding, sequence == self.sequence, let request = current else { return }
        let close = closes(after: request, response)
        pending.removeFirst()
        responding = false
        task = nil
        let bytes = write(response, for: request, close: close)
        logAccess(method: request.method, path: request.path, id: request.id, status: response.status, bytes: bytes)
        afterResponse()
    }

    func beginStream(_ response: HTTPResponse, sequence: UInt64) {
        guard phase == .open, responding, sequence == self.sequence, let request = current else { return }
        streamChunked = request.version == .http1_1
        streamClose = !streamChunked || closes(after: request, response)
        streamBytes = 0
        loop.encoder.appendHead(status: response.status, headers: response.headers, contentLength: nil,
                                chunked: streamChunked, keepUserContentLength: false,
                                connection: streamClose ? .close : .none, into: &out)
        flush()
    }

    func streamChunk(_ bytes: [UInt8], sequence: UInt64, continuation: CheckedContinuation<Void, any Error>) {
        guard phase == .open, responding, sequence == self.sequence else {
            continuation.resume(throwing: SocketError("send(response body to \(peer))", code: EPIPE))
            return
        }
        if streamChunked {
            ResponseEncoder.appendHex(bytes.count, into: &out)
            out.append(0x0D)
            out.append(0x0A)
            out.append(contentsOf: bytes)
            out.append(0x0D)
            out.append(0x0A)
        } else {
            out.append(contentsOf: bytes)
        }
        streamBytes += bytes.count
        flush()
        if phase != .open {
            continuation.resume(throwing: SocketError("send(response body to \(peer))", code: EPIPE))
        } else if out.count - outSent > Self.outputHighWater {
            streamWaiter = continuation
        } else {
            continuation.resume()
        }
    }

    func endStream(sequence: UInt64, failed: Bool) {
        guard phase == .open, responding, sequence == self.sequence, let request = current else { return }
        if failed {
            // The status is already sent: all that is left is to cut the body short.
            closeNow()
            return
        }
        if streamChunked { out.append(contentsOf: [0x30, 0x0D, 0x0A, 0x0D, 0x0A]) }
        pending.removeFirst()
        responding = false
        task = nil
        logAccess(method: request.method, path: request.path, id: request.id, status: 200, bytes: streamBytes)
        if streamClose {
            closeAfterFlush = true
            stopParsing = true
            setReading(false)
        }
        flush()
        if !streamClose { afterResponse() }
    }

    /// Encodes `response` (for `request`, nil for a refusal) and starts sending it.
    /// Returns the bytes encoded (head and body), for the access log.
    @discardableResult
    func write(_ response: HTTPResponse, for request: HTTPRequest?, close: Bool) -> Int {
        let before = out.count
        let isHead = request?.method == .head
        let status = response.status
        let bodyless = (100..<200).contains(status) || status == 204 || status == 304
        let keepUserLength = isHead && response.body.isEmpty && response.headers.contains("content-length")
        // HEAD of a streamed response: the same head a GET would get, with no length known.
        let streamed = response.stream != nil
        let connection: ResponseEncoder.ConnectionHeader =
            close ? .close : (request?.version == .http1_0 ? .keepAlive : .none)
        loop.encoder.appendHead(status: status, headers: response.headers,
                                contentLength: bodyless || keepUserLength || streamed ? nil : response.body.count,
                                chunked: streamed && !bodyless && request?.version == .http1_1,
                                keepUserContentLength: keepUserLength, connection: connection, into: &out)
        if !bodyless && !isHead { out.append(contentsOf: response.body) }
        if close {
            closeAfterFlush = true
            stopParsing = true
            setReading(false)
        }
        let encoded = out.count - before
        flush()
        return encoded
    }

    func afterResponse() {
        guard phase == .open else { return }
        servedAny = true
        idleSince = loop.now
        if continueOwed && pending.isEmpty && parser.isReadingBody {
            continueOwed = false
            sendContinue()
        }
        startNext()
        if phase == .open && !responding && pending.isEmpty && (peerClosed || drainRequested && parser.isIdle) {
            closeNow()
            return
        }
        updateDeadline()
    }

    func logAccess(method: HTTPMethod?, path: String?, id: String?, status: Int, bytes: Int,
                   started: UInt64? = nil, protocol version: HTTPVersion? = nil)
    {
        guard loop.core.accessLog else { return }
        let micros = (loop.now &- (started ?? respondStart)) / 1000
        // Every line names its protocol (`GET /healthz 200 HTTP/1.1`, `… HTTP/2`), in the text and the metadata.
        let version = version ?? current?.version ?? .http1_1
        let line = "\(method?.rawValue ?? "-") \(path ?? "-") \(status) \(version)"
        loop.core.logger.info("\(line)", metadata: [
            "request.id": "\(id ?? "-")", "http.status": "\(status)", "http.bytes": "\(bytes)",
            "duration_ms": "\(Double(micros) / 1000)", "remote": "\(peer)", "http.protocol": "\(version)",
        ])
    }
}

/// Carries a loop-confined connection into its handler task, which runs on the same loop thread
/// (the task's executor preference) and calls back only through `EventLoop.execute`.
struct ConnectionReference: @unchecked Sendable {
    let connection: Connection
}
