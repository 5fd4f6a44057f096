import CCurl
import Glibc

/// One libcurl easy handle and everything it points at (error buffer, header and recipient lists, the
/// upload, the response). The caller configures it, then `TransferEngine` owns it until it resumes the
/// continuation; `deinit` frees the C memory, so each handle has exactly one owner.
final class Transfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    /// What the error messages name: `GET https://…` or `SMTP smtp://host:587` (never a password).
    let operation: String
    let maxResponseBytes: Int
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    private var upload: [UInt8] = []
    private var uploaded = 0
    private(set) var body: [UInt8] = []
    private(set) var headers: [(String, String)] = []
    private var tooLarge = false
    private var continuation: CheckedContinuation<Completed, any Error>?

    /// What a finished transfer hands back.
    struct Completed: Sendable {
        var code: Int
        var body: [UInt8]
        var headers: [(String, String)]
        var effectiveURL: String
    }

    init(operation: String, maxResponseBytes: Int) throws {
        guard let easy = curl_easy_init() else { throw OutboundError(.other, operation: operation, detail: "curl_easy_init failed") }
        self.easy = easy
        self.operation = operation
        self.maxResponseBytes = maxResponseBytes
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let me = Unmanaged.passUnretained(self).toOpaque()
        set(CURLOPT_NOSIGNAL, 1)
        celeriac_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        celeriac_curl_set_write(easy, { data, size, count, user in
            Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue().received(data, size * count)
        })
        celeriac_curl_set_pointer(easy, CURLOPT_WRITEDATA, me)
        celeriac_curl_set_header(easy, { data, size, count, user in
            Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue().header(data, size * count)
        })
        celeriac_curl_set_pointer(easy, CURLOPT_HEADERDATA, me)
    }

    deinit {
        curl_easy_cleanup(easy)
        lists.forEach { curl_slist_free_all($0) }
        errorBuffer.deallocate()
    }

    func set(_ option: CURLoption, _ value: Int) { celeriac_curl_set_long(easy, option, value) }
    func set(_ option: CURLoption, _ value: String) { celeriac_curl_set_string(easy, option, value) }  // curl copies strings

    /// A `curl_slist` option (request headers, SMTP recipients), kept alive until the handle is freed.
    func set(_ option: CURLoption, list: [String]) {
        var head: UnsafeMutablePointer<curl_slist>?
        for item in list { head = curl_slist_append(head, item) }
        guard let head else { return }
        lists.append(head)
        celeriac_curl_set_slist(easy, option, head)
    }

    /// Bytes to send as the upload (an SMTP message): read by curl through the read callback.
    func setUpload(_ bytes: [UInt8]) {
        upload = bytes
        set(CURLOPT_UPLOAD, 1)
        celeriac_curl_set_read(easy, { buffer, size, count, user in
            Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue().read(into: buffer, size * count)
        })
        celeriac_curl_set_pointer(easy, CURLOPT_READDATA, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Runs the transfer on the engine thread; cancelling the Swift task stops it.
    func perform() async throws -> Completed {
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                self.continuation = continuation
                TransferEngine.shared.start(self)
            }
        } onCancel: {
            TransferEngine.shared.cancel(self)
        }
    }

    // Engine thread only, from here on.

    func complete(_ code: CURLcode) {
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            if tooLarge {
                return fail(OutboundError(.tooLarge, operation: operation, detail: "response exceeds \(maxResponseBytes) bytes"))
            }
            return fail(OutboundError(curlCode: Int(code.rawValue), operation: operation, detail: reason))
        }
        var status = 0
        celeriac_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var raw: UnsafeMutableRawPointer?
        celeriac_curl_get_pointer(easy, CURLINFO_EFFECTIVE_URL, &raw)
        let url = raw.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? ""
        resume(.success(Completed(code: status, body: body, headers: headers, effectiveURL: url)))
    }

    func fail(_ error: any Error) { resume(.failure(error)) }

    private func resume(_ result: Result<Completed, any Error>) {
        let continuation = self.continuation
        self.continuation = nil
        continuation?.resume(with: result)
    }

    private func received(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard body.count + count <= maxResponseBytes else { tooLarge = true; return 0 }  // 0 makes curl stop
        if let data, count > 0 { body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: count)) }
        return count
    }

    /// Keeps the headers of the last response only (a redirect's own headers are dropped).
    private func header(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data else { return count }
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
        if line.hasPrefix("HTTP/") { headers = [] }
        if let colon = line.firstIndex(of: ":") {
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingWhitespace))
        }
        return count
    }

    private func read(into buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
        let n = min(capacity, upload.count - uploaded)
        guard let buffer, n > 0 else { return 0 }
        upload.withUnsafeBytes { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + uploaded, byteCount: n)
        }
        uploaded += n
        return n
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
