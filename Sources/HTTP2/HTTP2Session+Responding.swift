import CNghttp2
import HTTPServer

/// Running handlers and turning their responses into HEADERS and DATA frames.
extension HTTP2Session {
    /// Runs the route's handler as a task on this loop (inline until it first suspends, as over HTTP/1.1).
    func dispatch(_ stream: HTTP2Stream, _ request: HTTPRequest) {
        let reference = SessionReference(session: self, stream: stream)
        let loop = transport.executor
        let responder = transport.responder
        let handle = Task.immediate(executorPreference: loop) {
            await HTTP2Session.run(request, for: reference, on: loop, responder: responder)
        }
        if stream.request != nil && streams[stream.id] === stream && stream.status == 0 { stream.task = handle }
    }

    /// The handler's task: answers the stream with the route's response.
    nonisolated static func run(_ request: HTTPRequest, for reference: SessionReference, on loop: any SessionExecutor,
                                responder: Responder) async {
        let response = await responder.respond(to: request)
        if response.stream == nil || request.method == .head {
            loop.execute { reference.session.respond(reference.stream, response) }
        } else {
            await streamResponse(response, for: request, to: reference, on: loop, responder: responder)
        }
    }

    /// Sends a streamed response: its head, then each piece the body writes, then the end. Apart from the
    /// task's closure, whose frame (allocated per request) stays small for the common, whole response.
    nonisolated static func streamResponse(_ response: HTTPResponse, for request: HTTPRequest, to reference: SessionReference,
                                           on loop: any SessionExecutor, responder: Responder) async {
        guard let body = response.stream else { return }
        loop.execute { reference.session.respond(reference.stream, response, streamed: true) }
        let writer = BodyWriter { bytes in
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                loop.execute { reference.session.write(bytes, to: reference.stream, continuation: continuation) }
            }
        }
        var failed = false
        do { try await body(writer) } catch {
            failed = true
            responder.logger.error("streamed response failed", metadata: ["request.id": "\(request.id)", "error": "\(error)"])
        }
        let failure = failed
        loop.execute { reference.session.endStream(reference.stream, failed: failure) }
    }

    /// Submits the response head, and the body through the data callback (deferred while a stream runs).
    func respond(_ stream: HTTP2Stream, _ response: HTTPResponse, streamed: Bool = false) {
        guard !isClosed, streams[stream.id] === stream, stream.status == 0 else { return }
        let status = response.status
        let bodyless = (100..<200).contains(status) || status == 204 || status == 304 || stream.request?.method == .head
        stream.status = status
        stream.output = bodyless || streamed ? [] : response.body
        stream.ended = !streamed || bodyless
        stream.bytes = stream.output.count
        let length = !streamed && !bodyless ? response.body.count : nil
        let result = Self.withHeaders(status: status, response.headers, contentLength: length) { headers, count in
            if bodyless {
                return nghttp2_submit_response(session, stream.id, headers, count, nil)
            }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Self.readBody)
            return nghttp2_submit_response(session, stream.id, headers, count, &provider)
        }
        if result != 0 { nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_INTERNAL_ERROR.rawValue) }
        pumpAtEndOfTurn()
    }

    /// Queues a streamed piece; the writer waits while the stream holds more than the high-water mark.
    func write(_ bytes: [UInt8], to stream: HTTP2Stream, continuation: CheckedContinuation<Void, any Error>) {
        guard !isClosed, streams[stream.id] === stream, !stream.ended else {
            continuation.resume(throwing: HTTP2StreamClosed(id: stream.id))
            return
        }
        stream.output.append(contentsOf: bytes)
        stream.bytes += bytes.count
        resumeData(stream)
        if stream.unsent > transport.outputHighWater { stream.writer = continuation } else { continuation.resume() }
    }

    func endStream(_ stream: HTTP2Stream, failed: Bool) {
        guard !isClosed, streams[stream.id] === stream, !stream.ended else { return }
        stream.ended = true
        if failed {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_INTERNAL_ERROR.rawValue)
            pump()
        } else {
            resumeData(stream)
        }
    }

    private func resumeData(_ stream: HTTP2Stream) {
        if stream.deferred {
            stream.deferred = false
            nghttp2_session_resume_data(session, stream.id)
        }
        pump()
    }

    /// nghttp2's data source: copies what the stream has; defers when a streamed body has nothing yet.
    static let readBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
        let session = HTTP2Session.from(userData)
        guard let stream = session.streams[streamID], let buffer, let flags else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        let count = min(length, stream.unsent)
        if count > 0 {
            stream.output.withUnsafeBufferPointer { source in
                buffer.update(from: source.baseAddress! + stream.outputSent, count: count)
            }
            stream.outputSent += count
        }
        if stream.unsent == 0 {
            stream.output.removeAll(keepingCapacity: true)
            stream.outputSent = 0
        }
        if let writer = stream.writer, stream.unsent <= session.transport.outputHighWater {
            stream.writer = nil
            writer.resume()
        }
        if stream.unsent == 0 && stream.ended {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
        } else if count == 0 {
            stream.deferred = true
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        return count
    }

    /// Lays a response head out as `nghttp2_nv`s for the duration of `body` (nghttp2 copies them on
    /// submit): `:status`, the fields with names lowercased and those HTTP/2 forbids left out (RFC 9113
    /// §8.2.2; `content-length` too, which the session writes itself), then `content-length` when given.
    /// One pass into temporary buffers: no `String` or array per field.
    static func withHeaders(status: Int, _ fields: HTTPHeaders, contentLength: Int?,
                            _ body: (UnsafePointer<nghttp2_nv>, Int) -> Int32) -> Int32 {
        let fields = fields.fields
        var capacity = 7 + 20 + 14 + 20  // :status, its digits, content-length and its digits
        for field in fields { capacity += field.name.utf8.count + field.value.utf8.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { bytes in
            withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: fields.count + 2) { nvs in
                var writer = HeaderBlockWriter(bytes: bytes.baseAddress!, nvs: nvs.baseAddress!)
                writer.add(name: ":status", decimal: status)
                for field in fields { writer.add(field) }
                if let contentLength { writer.add(name: "content-length", decimal: contentLength) }
                return body(UnsafePointer(nvs.baseAddress!), writer.count)
            }
        }
    }
}
