import CNghttp2
import HTTPServer

/// One HTTP/2 connection: nghttp2 as the codec (bytes in with `mem_recv`, out with `mem_send`), the socket
/// and its deadlines in `SessionTransport`, the handlers run as tasks on the connection's loop.
/// Owns its `nghttp2_session`. Confined to the loop thread.
final class HTTP2Session: ProtocolSession {
    let transport: any SessionTransport
    let limits: HTTP2.Limits
    var session: OpaquePointer?
    var streams: [Int32: HTTP2Stream] = [:]
    /// The stream whose HEADERS began last, while it is in `streams` (`receiving`).
    var lastBegun: HTTP2Stream?
    var draining = false
    var isClosed = false
    var pumping = false
    /// A pump is due at the end of this loop turn (`pumpAtEndOfTurn`).
    var pumpQueued = false
    /// The connection is ending on an error: its GOAWAY (and the ACKs queued before it) go out past the
    /// high-water mark, nothing more is read.
    var failed = false
    /// The header list being received (`collecting`: its stream; 0 none), kept from list to list.
    var fields = HTTPHeaders.Collector()
    var collecting: Int32 = 0
    /// CONTINUATION frames since the last HEADERS.
    var continuations = 0
    var resets: RateBudget
    var controlFrames: RateBudget
    private var upgraded: HTTP2Stream?

    init(transport: any SessionTransport, limits: HTTP2.Limits) {
        self.transport = transport
        self.limits = limits
        resets = RateBudget(burst: limits.resetBurst, perSecond: limits.resetsPerSecond, now: transport.now)
        controlFrames = RateBudget(burst: limits.controlFrameBurst, perSecond: limits.controlFramesPerSecond,
                                   now: transport.now)
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        Self.install(callbacks)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Our own budget (`resets`, on the transport's clock) answers ENHANCE_YOUR_CALM first; nghttp2's (on the
        // wall clock; it would say INTERNAL_ERROR) stays as a looser backstop.
        nghttp2_option_set_stream_reset_rate_limit(option, UInt64(max(2 * limits.resetBurst, 1000)),
                                                   UInt64(max(2 * limits.resetsPerSecond, 33)))
        // Ours counts CONTINUATION frames (`frameBegins`); Debian's nghttp2 1.52 backport counts reads of a
        // CONTINUATION's 9-byte header instead, so one header split over 9 reads counted 9 and a legitimate
        // client fed byte by byte got a GOAWAY. It stays as a backstop that a real count under ours never reaches.
        nghttp2_option_set_max_continuations(option, 9 * (limits.maxContinuations + 1))
        nghttp2_option_set_max_outbound_ack(option, limits.maxQueuedAcks)
        nghttp2_option_set_max_settings(option, limits.maxSettingsEntries)
        nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096)
        nghttp2_session_server_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        let entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: UInt32(limits.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(limits.streamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: UInt32(limits.maxHeaderListBytes)),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), entries, entries.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(limits.connectionWindow))
    }

    deinit { nghttp2_session_del(session) }

    /// Applies an `Upgrade: h2c` request: its settings, and the request itself as stream 1.
    func upgrade(settings: [UInt8], request: HTTPRequest) -> Bool {
        let head: Int32 = request.method == .head ? 1 : 0
        guard nghttp2_session_upgrade2(session, settings, settings.count, head, nil) == 0 else { return false }
        let stream = HTTP2Stream(id: 1, now: transport.now)
        var request = request
        request.version = .http2
        stream.request = request
        streams[1] = stream
        lastBegun = nil
        upgraded = stream
        return true
    }

    // MARK: ProtocolSession

    func start(initial: UnsafeRawBufferPointer) {
        if let stream = upgraded, let request = stream.request {
            upgraded = nil
            dispatch(stream, request)
        }
        if initial.isEmpty { pump() } else { receive(initial) }
    }

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, !failed, let base = bytes.baseAddress else { return }
        // No `mem_send` from inside nghttp2's callbacks (a handler may answer at once): pump afterwards.
        pumping = true
        let result = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        pumping = false
        if result < 0 {
            // Fatal: nghttp2 or our callback may have queued a GOAWAY with its own code already (the first one
            // wins: terminating twice does nothing); else one for the error. Send it, then close.
            failed = true
            nghttp2_session_terminate_session(session, Self.goawayCode(for: Int32(result)))
        }
        transport.noteActivity()
        pump()
    }

    /// The GOAWAY code for a fatal `mem_recv` result, per RFC 9113: abuse (floods, too many CONTINUATIONs,
    /// our budgets) is ENHANCE_YOUR_CALM (§10.5); a broken preface or anything else PROTOCOL_ERROR (§3.4, §5.4.1).
    static func goawayCode(for result: Int32) -> UInt32 {
        switch result {
        case NGHTTP2_ERR_FLOODED.rawValue, NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue,
             NGHTTP2_ERR_CALLBACK_FAILURE.rawValue, NGHTTP2_ERR_TOO_MANY_SETTINGS.rawValue:
            NGHTTP2_ENHANCE_YOUR_CALM.rawValue
        default:
            NGHTTP2_PROTOCOL_ERROR.rawValue
        }
    }

    /// What may go out past the high-water mark on a fatal error: 1000 queued ACKs of 17 bytes and a GOAWAY.
    static let failureSlack = 32 * 1024

    func transportWritable() { pump() }

    func drain() {
        guard !isClosed, !draining else { return }
        draining = true
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
                              NGHTTP2_NO_ERROR.rawValue, nil, 0)
        pump()
    }

    /// GOAWAY NO_ERROR with the last stream processed (RFC 9113 §6.8), then close; the second time, close.
    func idleTimedOut() {
        guard !isClosed else { return }
        if draining {
            transport.close()
        } else {
            drain()
        }
    }

    func closed() {
        guard !isClosed else { return }
        isClosed = true
        for stream in streams.values { abandon(stream) }
        streams.removeAll()
        lastBegun = nil
    }

    var isIdle: Bool { streams.isEmpty }

    func abandon(_ stream: HTTP2Stream) {
        stream.task?.cancel()
        stream.task = nil
        stream.ended = true
        if let writer = stream.writer {
            stream.writer = nil
            writer.resume(throwing: HTTP2StreamClosed(id: stream.id))
        }
    }

    // MARK: Output

    /// Pumps once this loop turn's work is done: the responses of every stream answered in the turn (a
    /// batch of submissions that one Redis reply completes) leave in one write, not one each.
    func pumpAtEndOfTurn() {
        guard !pumpQueued else { return }
        pumpQueued = true
        transport.executor.atEndOfTurn { [self] in
            pumpQueued = false
            pump()
        }
    }

    /// Moves nghttp2's output into the transport while it is below the high-water mark; closes once
    /// neither side wants anything more (after a GOAWAY both ways, or a drained shutdown).
    func pump() {
        guard !isClosed, !pumping else { return }
        pumping = true
        defer { pumping = false }
        var produced = true
        while produced && transport.isOpen {
            produced = false
            // After a fatal error the last frames go out regardless of backpressure; they are bounded by
            // `maxQueuedAcks` (nghttp2 stops producing once the GOAWAY is sent), and `failureSlack` caps them.
            let mark = failed ? transport.outputHighWater + Self.failureSlack : transport.outputHighWater
            while transport.isOpen && transport.pendingOutput < mark {
                var data: UnsafePointer<UInt8>?
                let count = nghttp2_session_mem_send(session, &data)
                if count < 0 {
                    transport.close()
                    return
                }
                guard count > 0, let data else { break }
                transport.append(UnsafeRawBufferPointer(start: data, count: count))
                produced = true
            }
            // A flush that drains everything calls back into `transportWritable`, which `pumping` swallows:
            // go round again instead.
            transport.flush()
            if transport.pendingOutput >= mark { break }
        }
        guard transport.isOpen else { return }
        let done = nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
        if done || (draining && streams.isEmpty && nghttp2_session_want_write(session) == 0) {
            transport.closeAfterFlush()
        }
    }
}

/// A streamed body's writer after its stream was reset or its connection closed.
struct HTTP2StreamClosed: Error, CustomStringConvertible {
    let id: Int32
    var description: String { "HTTP/2 stream \(id) closed before its response was sent" }
}
