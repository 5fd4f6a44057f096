import Glibc
/// An HTTP/1.1 request parser that does no I/O: feed it bytes, take events out.
///
/// ```swift
/// var parser = HTTPParser()
/// parser.feed(bytes)
/// while let event = try parser.next() {
///     if case .request(let request) = event { … }
/// }
/// ```
/// It is strict where leniency enables request smuggling: CRLF only (a bare LF or CR is a 400),
/// no obsolete line folding, no NUL or other control bytes in the head, `Content-Length` together
/// with `Transfer-Encoding` is a 400, duplicate `Content-Length` is a 400, `Transfer-Encoding` must
/// end in `chunked`. Any error is final: the connection must answer it and close.
public struct HTTPParser: Sendable {
    /// Size limits enforced while parsing; exceeding one is a 431 (head) or 413 (body).
    public struct Limits: Sendable, Equatable {
        /// Request line plus header fields (and trailers), in bytes. Default 16 KiB.
        public var maxHeaderBytes: Int
        /// Header fields plus trailer fields. Default 100.
        public var maxHeaderCount: Int
        /// Decoded body bytes. Default 1 MiB.
        public var maxBodyBytes: Int

        public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 100, maxBodyBytes: Int = 1 << 20) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// What the parser found.
    public enum Event: Sendable {
        /// The head asked for `Expect: 100-continue` and its body has not been read yet.
        case expectContinue
        /// A complete request, body included.
        case request(HTTPRequest)
    }

    private enum State: Sendable {
        case head, fixedBody(remaining: Int), chunkSize, chunkData(remaining: Int), chunkDataEnd, trailers
        case failed(HTTPError)
    }

    /// Longest chunk-size line (size plus extensions) accepted.
    static let maxChunkLineBytes = 4096
    /// Empty lines tolerated before a request line (RFC 9112 §2.2 robustness).
    static let maxLeadingEmptyLines = 8

    public let limits: Limits
    private var state: State = .head
    private var buffer: [UInt8] = []
    /// First byte not yet consumed; in line states, the start of the current partial line.
    private var index = 0
    /// How far the current line has been searched for LF.
    private var scanned = 0
    private var headBytes = 0
    private var head = Head()
    /// The current head's fields, as received (its buffers reused from request to request).
    private var fields = ReceivedFields.Builder()
    private var body: [UInt8] = []

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Appends received bytes.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// True before the first byte of a request has arrived (nothing buffered, nothing half-parsed).
    public var isIdle: Bool {
        if case .head = state { return headBytes == 0 && index == buffer.count }
        return false
    }

    /// True while a request's body is being received.
    public var isReadingBody: Bool {
        switch state {
        case .fixedBody, .chunkSize, .chunkData, .chunkDataEnd, .trailers: true
        default: false
        }
    }

    /// Bytes received but not yet consumed.
    public var bufferedBytes: Int { buffer.count - index }

    /// Hands over the bytes not yet consumed (after an `Upgrade`, they belong to the new protocol).
    mutating func takeBuffered() -> [UInt8] {
        defer {
            buffer = []
            index = 0
            scanned = 0
        }
        return Array(buffer[index...])
    }

    /// The next event, nil when more bytes are needed; an error is final and thrown again on each call.
    public mutating func next() throws(HTTPError) -> Event? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func compact() {
        guard index > 0, index == buffer.count || index >= 4096 else { return }
        if index == buffer.count && buffer.capacity > 1 << 16 {
            // Do not keep a large body's capacity on an idle keep-alive connection.
            buffer = []
            scanned = 0
            index = 0
            return
        }
        buffer.removeSubrange(0..<index)
        scanned -= index
        index = 0
    }

    private mutating func step() throws(HTTPError) -> Event? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .head:
                if head.method != nil, scanned == index { fastFieldLines() }
                let budget = limits.maxHeaderBytes - headBytes
                guard let line = try nextLine(limit: budget, kind: .head) else { return nil }
                headBytes += line.count + 2
                if head.method == nil {
                    if line.isEmpty {
                        head.emptyLines += 1
                        if head.emptyLines > Self.maxLeadingEmptyLines { throw .badRequest("too many empty lines before the request line") }
                        continue
                    }
                    try withHeadLine(line) { (parser, l) throws(HTTPError) in try parser.head.parseRequestLine(l) }
                } else if line.isEmpty {
                    if let event = try finishHead() { return event }
                } else {
                    if fields.count >= limits.maxHeaderCount { throw Self.tooManyHeaders(limits) }
                    try withHeadLine(line) { (parser, l) throws(HTTPError) in
                        let (nameEnd, valueStart, valueEnd) = try parser.head.parseHeaderLine(l)
                        parser.fields.append(line: l, nameEnd: nameEnd, valueStart: valueStart, valueEnd: valueEnd)
                    }
                }
            case .fixedBody(let remaining):
                let take = min(remaining, buffer.count - index)
                body.append(contentsOf: buffer[index..<index + take])
                index += take
                scanned = index
                if take == remaining { return complete() }
                state = .fixedBody(remaining: remaining - take)
                return nil
            case .chunkSize:
                guard let line = try nextLine(limit: Self.maxChunkLineBytes, kind: .chunkSize) else { return nil }
                let size = try Self.withLine(buffer, line) { (l) throws(HTTPError) in try Self.parseChunkSize(l) }
                if size == 0 {
                    state = .trailers
                } else {
                    if size > limits.maxBodyBytes - body.count { throw Self.bodyTooLarge(limits) }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - index)
                body.append(contentsOf: buffer[index..<index + take])
                index += take
                scanned = index
                if take < remaining {
                    state = .chunkData(remaining: remaining - take)
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard buffer.count - index >= 2 else { return nil }
                guard buffer[index] == 0x0D, buffer[index + 1] == 0x0A else {
                    throw .badRequest("chunk data is not followed by CRLF")
                }
                index += 2
                scanned = index
                state = .chunkSize
            case .trailers:
                let budget = limits.maxHeaderBytes - headBytes
                guard let line = try nextLine(limit: budget, kind: .head) else { return nil }
                headBytes += line.count + 2
                if line.isEmpty { return complete() }
                head.trailerCount += 1
                if fields.count + head.trailerCount > limits.maxHeaderCount { throw Self.tooManyHeaders(limits) }
                var trailers = Head()
                try Self.withLine(buffer, line) { (l) throws(HTTPError) in _ = try trailers.parseHeaderLine(l) }
            }
        }
    }

    /// The common header lines in one pass each, straight from the buffer: a token name, `:`, OWS, a
    /// value of field-value bytes, CRLF, within the limits. Finding the value's first refused byte
    /// finds the line's end too (CR is refused), so lines are not searched for LF first. It stops,
    /// having taken the lines before, at anything else (the empty line that ends the head, an
    /// incomplete line, a tab in a value, an error of any kind), which the general path then reads
    /// with its own errors. Taken only where a line starts (`scanned == index`), so a line arriving
    /// in pieces is not rescanned from its start each time.
    private mutating func fastFieldLines() {
        var bytes: [UInt8] = []
        swap(&bytes, &buffer)
        defer { swap(&bytes, &buffer) }
        var at = index
        bytes.withUnsafeBufferPointer { all in
            guard let base = all.baseAddress else { return }
            let count = all.count
            while at < count, base[at] != 0x0D, fields.count < limits.maxHeaderCount {
                let line = UnsafeBufferPointer(start: base + at, count: count - at)
                let nameEnd = HeadSyntax.tokenEnd(line)
                guard nameEnd > 0, nameEnd < line.count, line[nameEnd] == 0x3A else { return }
                var valueStart = nameEnd + 1
                while valueStart < line.count, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
                guard let stop = HeadSyntax.lineEnd(base, from: at + valueStart, count: count).map({ $0 - at }),
                      stop + 2 <= limits.maxHeaderBytes - headBytes
                else { return }
                var valueEnd = stop
                while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                let fieldLine = UnsafeBufferPointer(start: base + at, count: stop)
                head.noteField(fieldLine, nameEnd: nameEnd, valueStart: valueStart, valueEnd: valueEnd)
                fields.append(line: fieldLine, nameEnd: nameEnd, valueStart: valueStart, valueEnd: valueEnd)
                headBytes += stop + 2
                at += stop + 2
            }
        }
        index = at
        scanned = at
    }

    private enum LineKind { case head, chunkSize }

    /// The error for a line over its limit, built only when needed (it formats a message).
    private func tooLong(_ kind: LineKind) -> HTTPError {
        switch kind {
        case .head: Self.headTooLarge(limits)
        case .chunkSize: .badRequest("chunk size line exceeds \(Self.maxChunkLineBytes) bytes")
        }
    }

    /// The content range of the next CRLF-terminated line, advancing past it; nil if incomplete.
    private mutating func nextLine(limit: Int, kind: LineKind) throws(HTTPError) -> Range<Int>? {
        let found: Int? = buffer.withUnsafeBufferPointer { bytes in
            guard scanned < bytes.count, let base = bytes.baseAddress,
                  let hit = memchr(base + scanned, 0x0A, bytes.count - scanned)
            else { return nil }
            return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
        }
        guard let lf = found else {
            scanned = buffer.count
            if buffer.count - index > limit { throw tooLong(kind) }
            return nil
        }
        guard lf > index, buffer[lf - 1] == 0x0D else { throw .badRequest("bare LF in the request; lines must end in CRLF") }
        if lf + 1 - index > limit { throw tooLong(kind) }
        let line = index..<(lf - 1)
        index = lf + 1
        scanned = index
        return line
    }

    /// Runs `body` on the bytes of `range`. The buffer is passed as an argument (a reference, not a
    /// copy) so `body` may mutate other stored properties without overlapping access to `self`.
    private static func withLine<T>(_ bytes: [UInt8], _ range: Range<Int>,
                                    _ body: (UnsafeBufferPointer<UInt8>) throws(HTTPError) -> T) throws(HTTPError) -> T {
        return try bytes.withUnsafeBufferPointer { (all) throws(HTTPError) -> T in
            try body(UnsafeBufferPointer(rebasing: all[range]))
        }
    }

    /// `withLine` for the lines of a head (one call per line on every request): the buffer is moved
    /// out of `self` while `body` runs, so `body` may change the parser and nothing retains the buffer.
    private mutating func withHeadLine(_ range: Range<Int>,
                                       _ body: (inout HTTPParser, UnsafeBufferPointer<UInt8>) throws(HTTPError) -> Void) throws(HTTPError) {
        var bytes: [UInt8] = []
        swap(&bytes, &buffer)
        defer { swap(&bytes, &buffer) }
        try bytes.withUnsafeBufferPointer { (all) throws(HTTPError) in try body(&self, UnsafeBufferPointer(rebasing: all[range])) }
    }

    private mutating func finishHead() throws(HTTPError) -> Event? {
        let framing = try head.framing(limits: limits)
        switch framing {
        case .none:
            return complete()
        case .length(let length):
            body.reserveCapacity(length)
            state = .fixedBody(remaining: length)
        case .chunked:
            state = .chunkSize
        }
        if head.expectContinue && head.version == .http1_1 && buffer.count == index {
            return .expectContinue
        }
        return nil
    }

    private mutating func complete() -> Event {
        let finished = head
        let request = HTTPRequest(method: finished.method ?? .get, path: finished.path, query: finished.query,
                                  headers: HTTPHeaders(received: fields.finish()), body: body, version: finished.version,
                                  keepAlive: finished.keepAlive)
        head = Head()
        body = []
        headBytes = 0
        state = .head
        return .request(request)
    }

    static func parseChunkSize(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPError) -> Int {
        var size = 0
        var i = 0
        while i < line.count, let digit = hexValue(line[i]) {
            if i >= 15 { throw .badRequest("chunk size has more than 15 hex digits") }
            size = size << 4 | digit
            i += 1
        }
        if i == 0 { throw .badRequest("chunk size is not a hex number") }
        while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        if i < line.count {
            guard line[i] == 0x3B else { throw .badRequest("unexpected byte after the chunk size") }
            for byte in line[i...] where !HeadSyntax.isFieldValueByte(byte) {
                throw .badRequest("control byte 0x\(String(byte, radix: 16)) in a chunk extension")
            }
        }
        return size
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }

    static func headTooLarge(_ limits: Limits) -> HTTPError {
        HTTPError(status: 431, detail: "request line and header fields exceed \(limits.maxHeaderBytes) bytes")
    }

    static func tooManyHeaders(_ limits: Limits) -> HTTPError {
        HTTPError(status: 431, detail: "more than \(limits.maxHeaderCount) header fields")
    }

    static func bodyTooLarge(_ limits: Limits) -> HTTPError {
        HTTPError(status: 413, detail: "request body exceeds \(limits.maxBodyBytes) bytes")
    }
}
