import CNghttp2
import HTTPServer

/// nghttp2's receive callbacks: non-capturing closures that find the session through `user_data`.
extension HTTP2Session {
    static func from(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
    }

    static func isType(_ frame: UnsafePointer<nghttp2_frame>, _ type: nghttp2_frame_type) -> Bool {
        UInt32(frame.pointee.hd.type) == type.rawValue
    }

    static func install(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, HTTP2Session.isType(frame, NGHTTP2_HEADERS),
                  frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
            HTTP2Session.from(userData).beginStream(frame.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let name, let value else { return 0 }
            return HTTP2Session.from(userData).header(frame.pointee.hd.stream_id, UnsafeBufferPointer(start: name, count: nameLength),
                                         UnsafeBufferPointer(start: value, count: valueLength))
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            guard let data else { return 0 }
            HTTP2Session.from(userData).bodyChunk(streamID, UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks) { _, header, userData in
            guard let header else { return 0 }
            return HTTP2Session.from(userData).frameBegins(type: header.pointee.type)
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            return HTTP2Session.from(userData).frameReceived(frame)
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            HTTP2Session.from(userData).streamClosed(streamID)
            return 0
        }
    }

    /// A whole frame arrived: a request may be complete; resets and control frames spend their budgets.
    func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let flags = frame.pointee.hd.flags
        switch UInt32(frame.pointee.hd.type) {
        case NGHTTP2_HEADERS.rawValue:
            headersComplete(frame.pointee.hd.stream_id)
            if flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 { requestComplete(frame.pointee.hd.stream_id) }
        case NGHTTP2_DATA.rawValue:
            if flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 { requestComplete(frame.pointee.hd.stream_id) }
        case NGHTTP2_RST_STREAM.rawValue:
            if !resets.spend(now: transport.now) { return enhanceYourCalm() }
        case NGHTTP2_PING.rawValue, NGHTTP2_SETTINGS.rawValue:
            if flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 && !controlFrames.spend(now: transport.now) {
                return enhanceYourCalm()
            }
        default:
            break
        }
        return 0
    }

    /// A frame header arrived: counts the CONTINUATIONs after one HEADERS (the CONTINUATION-flood guard).
    func frameBegins(type: UInt8) -> Int32 {
        switch UInt32(type) {
        case NGHTTP2_HEADERS.rawValue:
            continuations = 0
        case NGHTTP2_CONTINUATION.rawValue:
            continuations += 1
            if continuations > limits.maxContinuations { return enhanceYourCalm() }
        default:
            break
        }
        return 0
    }

    /// Ends the connection for abuse (RFC 9113 §10.5: ENHANCE_YOUR_CALM) and stops reading this input.
    func enhanceYourCalm() -> Int32 {
        nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
        return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
    }

    func beginStream(_ id: Int32) {
        let stream = HTTP2Stream(id: id, now: transport.now)
        streams[id] = stream
        lastBegun = stream
    }

    /// The open stream `id`: a request's frames mostly follow its HEADERS, so the last one begun is
    /// looked at before the table.
    @inline(__always)
    func receiving(_ id: Int32) -> HTTP2Stream? {
        if let stream = lastBegun, stream.id == id { return stream }
        return streams[id]
    }

    /// Collects one field; a header list over the limit ends the connection (the HPACK-bomb guard).
    func header(_ id: Int32, _ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Int32 {
        guard let stream = receiving(id) else { return 0 }
        stream.headerBytes += name.count + value.count + 32
        if stream.headerBytes > limits.maxHeaderListBytes {
            nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
            return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        if name.first == 0x3A {
            // Names compared as bytes: a `String` only for the three values kept (not `:scheme`'s).
            if name.elementsEqual(Self.methodName) {
                stream.method = String(decoding: value, as: UTF8.self)
            } else if name.elementsEqual(Self.pathName) {
                stream.target = String(decoding: value, as: UTF8.self)
            } else if name.elementsEqual(Self.authorityName) {
                stream.authority = String(decoding: value, as: UTF8.self)
            }
        } else {
            // A header list is never interleaved with another stream's (RFC 9113 §4.3): one collector serves all.
            if collecting != id {
                fields.reset()
                collecting = id
            }
            if name.count == 4 && name.elementsEqual(Self.hostName) { stream.sawHost = true }
            fields.append(name: name, value: value)
        }
        return 0
    }

    /// A HEADERS frame's list is complete: the request's fields, or trailers added to them. `:authority`
    /// becomes `host` when the request has none (after the request's own fields, before any trailers).
    func headersComplete(_ id: Int32) {
        guard let stream = receiving(id), stream.request == nil, !stream.tooLarge else { return }
        if collecting != id { fields.reset() }  // no regular field in this list
        collecting = 0
        if !stream.hasFields {
            stream.hasFields = true
            if let authority = stream.authority, !stream.sawHost { fields.append(name: "host", value: authority) }
            stream.headers = fields.finish()
        } else {
            for field in fields.finish() { stream.headers.add(name: field.name, value: field.value) }
        }
    }

    static let methodName = Array(":method".utf8)
    static let pathName = Array(":path".utf8)
    static let authorityName = Array(":authority".utf8)
    static let hostName = Array("host".utf8)

    /// Appends body bytes; past the server's body limit the rest is dropped and the answer will be 413.
    func bodyChunk(_ id: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        guard let stream = receiving(id), !stream.tooLarge else { return }
        if stream.body.count + bytes.count > transport.limits.maxBodyBytes {
            // Answer at once (as HTTP/1.1 does, before the body ends); the rest of the body is dropped.
            stream.tooLarge = true
            stream.body = []
            let limit = transport.limits.maxBodyBytes
            stream.request = HTTPRequest(method: HTTPMethod(stream.method), path: stream.target, version: .http2)
            respond(stream, HTTPResponse.problem(status: 413, detail: "request body exceeds \(limit) bytes"))
            return
        }
        stream.body.append(contentsOf: bytes)
    }

    func requestComplete(_ id: Int32) {
        guard let stream = receiving(id), stream.request == nil, !stream.tooLarge else { return }
        let (path, query) = HTTPRequest.splitTarget(stream.target)
        var request = HTTPRequest(method: HTTPMethod(stream.method), path: path, query: query, headers: stream.headers,
                                  body: stream.body, remoteAddress: transport.peer, version: .http2)
        request.id = transport.requestID(for: request)
        stream.body = []
        stream.request = request
        dispatch(stream, request)
    }

    func streamClosed(_ id: Int32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if lastBegun === stream { lastBegun = nil }
        if streams.isEmpty { transport.noteActivity() }  // the idle timeout counts from the last stream's end
        if let request = stream.request, stream.status != 0 {
            transport.logAccess(request, status: stream.status, bytes: stream.bytes, started: stream.started)
        }
        abandon(stream)
    }
}
