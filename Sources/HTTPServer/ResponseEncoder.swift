import Glibc

/// Serialises response heads into a connection's output buffer; one per event loop (caches `Date`).
struct ResponseEncoder {
    enum ConnectionHeader { case none, close, keepAlive }

    private var dateSecond = -1
    private var dateLine: [UInt8] = []

    /// `HTTP/1.1 <status> <reason>\r\n` for every status 100...599, built once.
    static let statusLines: [[UInt8]] = (0..<600).map { Array("HTTP/1.1 \($0) \(HTTPStatus.reason($0))\r\n".utf8) }

    /// Appends the head. `contentLength` nil with `chunked` false means: no length (bodiless status,
    /// a HEAD response that keeps the handler's own `Content-Length`, or a body delimited by close).
    mutating func appendHead(status: Int, headers: HTTPHeaders, contentLength: Int?, chunked: Bool,
                             keepUserContentLength: Bool, connection: ConnectionHeader, into out: inout [UInt8])
    {
        if (100..<600).contains(status) {
            out.append(contentsOf: Self.statusLines[status])
        } else {
            out.append(contentsOf: Array("HTTP/1.1 \(status) Status\r\n".utf8))
        }
        var hasDate = false
        for field in headers {
            let name = field.name
            if HTTPHeaders.same(name, "content-length") && !keepUserContentLength { continue }
            if HTTPHeaders.same(name, "transfer-encoding") || HTTPHeaders.same(name, "connection") { continue }
            if HTTPHeaders.same(name, "date") { hasDate = true }
            Self.appendSafe(name, into: &out)
            out.append(0x3A)
            out.append(0x20)
            Self.appendSafe(field.value, into: &out)
            out.append(0x0D)
            out.append(0x0A)
        }
        if let contentLength {
            out.append(contentsOf: Self.contentLengthPrefix)
            Self.appendDecimal(contentLength, into: &out)
            out.append(0x0D)
            out.append(0x0A)
        }
        if chunked { out.append(contentsOf: Self.chunkedLine) }
        switch connection {
        case .none: break
        case .close: out.append(contentsOf: Self.closeLine)
        case .keepAlive: out.append(contentsOf: Self.keepAliveLine)
        }
        if !hasDate { out.append(contentsOf: currentDateLine()) }
        out.append(0x0D)
        out.append(0x0A)
    }

    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let chunkedLine = Array("Transfer-Encoding: chunked\r\n".utf8)
    static let closeLine = Array("Connection: close\r\n".utf8)
    static let keepAliveLine = Array("Connection: keep-alive\r\n".utf8)
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Handler-supplied text goes out with CR, LF and NUL replaced by spaces: no response splitting.
    static func appendSafe(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            if !bytes.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes { out.append(byte == 0x0D || byte == 0x0A || byte == 0 ? 0x20 : byte) }
        }
    }

    static func appendDecimal(_ value: Int, into out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(0x30 + value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[count] = UInt8(0x30 + v % 10)
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    static func appendHex(_ value: Int, into out: inout [UInt8]) {
        let hex = String(value, radix: 16)
        out.append(contentsOf: hex.utf8)
    }

    /// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n`, recomputed once a second.
    private mutating func currentDateLine() -> [UInt8] {
        let now = time(nil)
        if now != dateSecond {
            dateSecond = now
            dateLine = Array("Date: \(Self.imfFixdate(now))\r\n".utf8)
        }
        return dateLine
    }

    static func imfFixdate(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) "
            + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }
}
