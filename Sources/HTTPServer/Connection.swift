import Glibc
import Logging
import Sockets

/// One client connection, confined to its event loop's thread.
///
/// Requests are parsed as bytes arrive, queued in `pending`, and handled one at a time in order
/// (so pipelined responses come back in order and a pipelined GET sees the effect of an earlier
/// POST). A refusal (`.reject`) takes its turn in the queue, is answered, and closes the connection.
final class Connection {
    enum Phase { case open, lingering, closed }
    enum Pending {
        case request(HTTPRequest)
        case reject(HTTPError)
    }

    unowned let loop: EventLoop
    let fd: Int32
    let peer: String
    /// Whether this connection holds one of the `maxConnections` slots (refused ones do not).
    let counted: Bool

    private(set) var phase = Phase.open
    var isOpen: Bool { phase != .closed }
    private var parser: HTTPParser
    private var pending: [Pending] = []
    /// A handler (or a streamed body) is running for `pending[0]`.
    private var responding = false
    private var task: Task<Void, Never>?
    /// Identifies the request being handled, so a late completion for a closed turn is ignored.
    private var sequence: UInt64 = 0
    private var respondStart: UInt64 = 0

    private var out: [UInt8] = []
    private var outSent = 0
    private var watching: EpollEvents = .readable
    private var readEnabled = true
    /// Reading and new handlers wait while more than `outputHighWater` bytes are unsent: a client
    /// that pipelines without reading cannot make the server buffer responses without bound.
    private var outputPaused = false
    /// No more requests are parsed: a final response (reject, Connection: close) is queued.
    private var stopParsing = false
    private var peerClosed = false
    private var closeAfterFlush = false
    private var drainRequested = false
    private var continueOwed = false
    private var servedAny = false

    private var idleSince: UInt64
    private var requestStart: UInt64
    private var bodyStart: UInt64 = 0
    private var writeBlockedSince: UInt64 = 0
    private var lingerDeadline: UInt64 = 0
    private var lingerBytes = 0
    private(set) var deadline = UInt64.max

    private var streamWaiter: CheckedContinuation<Void, any Error>?
    private var streamChunked = false
    private var streamClose = false
    private var streamBytes = 0

    /// Bytes discarded while lingering before giving up and closing.
    static let maxLingerBytes = 256 * 1024
    /// A streaming handler's `write` waits, and reading pauses, while more than this is unsent.
    static let outputHighWater = 256 * 1024

    init(loop: EventLoop, fd: Int32, peer: String, counted: Bool) {
        self.loop = loop
        self.fd = fd
        self.peer = peer
        self.counted = counted
        parser = HTTPParser(limits: loop.core.parserLimits)
        idleSince = loop.now
        requestStart = loop.now
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
                if parser.isIdle { requestStart = loop.now }
                parser.feed(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count]))
                processInput()
            }
        }
    }

    private func processInput() {
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

    private func queueFinal(_ error: HTTPError) {
        pending.append(.reject(error))
        stopParsing = true
        setReading(false)
    }

    private func requestID(for request: HTTPRequest) -> String {
        if let given = request.headers["x-request-id"], (1...128).contains(given.utf8.count),
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        {
            return given
        }
        return loop.nextRequestID()
    }

    private func sendContinue() {
        out.append(contentsOf: ResponseEncoder.continueResponse)
        flush()
    }

    // MARK: Handling

    private func startNext() {
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

    private func dispatch(_ request: HTTPRequest, sequence: UInt64) {
        let reference = ConnectionReference(connection: self)
        let loop = self.loop
        let router = loop.core.router
        let logger = loop.core.logger
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

    private var current: HTTPRequest? {
        if case .request(let request)? = pending.first { return request }
        return nil
    }

    /// Whether the connection closes after answering `request`.
    private func closes(after request: HTTPRequest, _ response: HTTPResponse) -> Bool {
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
        let before = out.count
        write(response, for: request, close: close)
        logAccess(method: request.method, path: request.path, id: request.id, status: response.status,
                  bytes: max(0, out.count - before))
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
    private func write(_ response: HTTPResponse, for request: HTTPRequest?, close: Bool) {
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
        flush()
    }

    private func afterResponse() {
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

    private func logAccess(method: HTTPMethod?, path: String?, id: String?, status: Int, bytes: Int) {
        guard loop.core.accessLog else { return }
        let micros = (loop.now &- respondStart) / 1000
        let line = "\(method?.rawValue ?? "-") \(path ?? "-") \(status)"
        loop.core.logger.info("\(line)", metadata: [
            "request.id": "\(id ?? "-")", "http.status": "\(status)", "http.bytes": "\(bytes)",
            "duration_ms": "\(Double(micros) / 1000)", "remote": "\(peer)",
        ])
    }

    // MARK: Writing

    func onWritable() {
        guard phase == .open else { return }
        flush()
        updateDeadline()
    }

    /// Sends what the kernel takes; watches for writability when it takes less than everything.
    private func flush() {
        while outSent < out.count {
            let result: IOResult<Int>
            do {
                result = try out.withUnsafeBytes { raw in
                    try StreamIO.send(fd, UnsafeRawBufferPointer(rebasing: raw[outSent...]))
                }
            } catch {
                closeNow()
                return
            }
            switch result {
            case .done(let count):
                outSent += count
                writeBlockedSince = 0
            case .wouldBlock:
                if writeBlockedSince == 0 { writeBlockedSince = loop.now }
                watch(writable: true)
                resumeStreamWriterIfBelowHighWater()
                if !outputPaused && out.count - outSent > Self.outputHighWater {
                    outputPaused = true
                    updateInterest()
                }
                return
            }
        }
        if out.capacity > 1 << 16 { out = [] } else { out.removeAll(keepingCapacity: true) }
        outSent = 0
        writeBlockedSince = 0
        watch(writable: false)
        resumeStreamWriterIfBelowHighWater()
        if closeAfterFlush {
            beginLinger()
        } else if outputPaused {
            outputPaused = false
            updateInterest()
            startNext()
        }
    }

    private func resumeStreamWriterIfBelowHighWater() {
        if let waiter = streamWaiter, out.count - outSent <= Self.outputHighWater {
            streamWaiter = nil
            waiter.resume()
        }
    }

    private func setReading(_ enabled: Bool) {
        readEnabled = enabled
        updateInterest()
    }

    private var wantsReadable: Bool { (readEnabled && !outputPaused) || phase == .lingering }

    private func watch(writable: Bool) {
        if watching.contains(.writable) == writable { return }
        watching = (writable ? EpollEvents.writable : []).union(wantsReadable ? .readable : [])
        apply()
    }

    private func updateInterest() {
        var wanted: EpollEvents = []
        if wantsReadable { wanted.insert(.readable) }
        if watching.contains(.writable) { wanted.insert(.writable) }
        if wanted != watching {
            watching = wanted
            apply()
        }
    }

    private func apply() {
        guard phase != .closed else { return }
        do { try loop.epoll.modify(fd, events: watching, token: UInt64(fd)) } catch { closeNow() }
    }

    // MARK: Closing

    /// After the last response: half-close and read until the peer closes too, so a client still
    /// sending never turns our final response into a reset.
    private func beginLinger() {
        guard phase == .open else { return }
        if peerClosed {
            closeNow()
            return
        }
        phase = .lingering
        StreamIO.shutdownWrite(fd)
        lingerDeadline = loop.now + loop.core.lingerTimeout
        updateInterest()
        updateDeadline()
    }

    private func discardWhileLingering() {
        while true {
            let result = try? StreamIO.read(fd, into: loop.readBuffer)
            switch result {
            case .done(let count)? where count > 0:
                lingerBytes += count
                if lingerBytes > Self.maxLingerBytes {
                    closeNow()
                    return
                }
            case .wouldBlock?:
                return
            default:
                closeNow()
                return
            }
        }
    }

    func closeNow() {
        guard phase != .closed else { return }
        phase = .closed
        deadline = .max
        loop.epoll.remove(fd)
        StreamIO.close(fd)
        loop.unregister(self)
        pending.removeAll()
        if let waiter = streamWaiter {
            streamWaiter = nil
            waiter.resume(throwing: SocketError("send(response body to \(peer))", code: EPIPE))
        }
    }

    /// Graceful shutdown: close now if idle, else after the responses already owed.
    func drain() {
        drainRequested = true
        if phase == .open && !responding && pending.isEmpty && parser.isIdle && outSent == out.count {
            closeNow()
        }
    }

    /// End of the grace period: cancel the handler and close.
    func forceClose() {
        task?.cancel()
        task = nil
        closeNow()
    }

    // MARK: Deadlines

    private func updateDeadline() {
        let core = loop.core
        var next = UInt64.max
        switch phase {
        case .closed:
            next = .max
        case .lingering:
            next = lingerDeadline
        case .open:
            if outSent < out.count && writeBlockedSince != 0 {
                next = writeBlockedSince + core.writeTimeout
            } else if readEnabled && !parser.isIdle {
                next = parser.isReadingBody ? bodyStart + core.bodyTimeout : requestStart + core.headerTimeout
            } else if responding || !pending.isEmpty {
                next = .max
            } else if readEnabled {
                next = idleSince + (servedAny ? core.idleTimeout : core.headerTimeout)
            }
        }
        deadline = next
        if next != .max { loop.scheduleTimer(next) }
    }

    func deadlinePassed() {
        switch phase {
        case .closed:
            return
        case .lingering:
            closeNow()
        case .open:
            if outSent < out.count && writeBlockedSince != 0 {
                closeNow()
            } else if readEnabled && !parser.isIdle {
                let core = loop.core.configuration.timeouts
                let detail = parser.isReadingBody
                    ? "request body not received within \(core.body) s"
                    : "request head not received within \(core.header) s"
                queueFinal(HTTPError(status: 408, detail: detail))
                startNext()
                updateDeadline()
            } else if !responding && pending.isEmpty {
                closeNow()
            } else {
                updateDeadline()
            }
        }
    }
}

/// Carries a loop-confined connection into its handler task, which runs on the same loop thread
/// (the task's executor preference) and calls back only through `EventLoop.execute`.
struct ConnectionReference: @unchecked Sendable {
    let connection: Connection
}
