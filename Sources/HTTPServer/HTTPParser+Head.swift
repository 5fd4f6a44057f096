/// The request head being parsed: the request line and what the framing fields said (the parser
/// keeps the fields themselves).
struct Head: Sendable {
    enum Framing { case none, length(Int), chunked }

    var emptyLines = 0
    var method: HTTPMethod?
    var path = ""
    var query: [String: String] = [:]
    var version = HTTPVersion.http1_1
    var trailerCount = 0
    var contentLengths: [String] = []
    var transferCodings: [String] = []
    var hostCount = 0
    var connectionClose = false
    var connectionKeepAlive = false
    var expectContinue = false
    var expectOther: String?

    var keepAlive: Bool {
        version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
    }

    /// `method SP request-target SP HTTP-version`, exactly one space each.
    mutating func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPError) {
        var i = 0
        while i < line.count, HeadSyntax.isTokenByte(line[i]) { i += 1 }
        guard i > 0, i < line.count, line[i] == 0x20 else { throw .badRequest("malformed request line: bad method") }
        let method = HTTPMethod.parse(UnsafeBufferPointer(rebasing: line[0..<i]))
        let targetStart = i + 1
        i = targetStart
        while i < line.count, line[i] > 0x20, line[i] < 0x7F { i += 1 }
        guard i > targetStart, i < line.count, line[i] == 0x20 else {
            throw .badRequest("malformed request line: bad request target")
        }
        let target = UnsafeBufferPointer(rebasing: line[targetStart..<i])
        let version = UnsafeBufferPointer(rebasing: line[(i + 1)...])
        self.version = try Self.parseVersion(version)
        try parseTarget(target, method: method)
        self.method = method
    }

    static func parseVersion(_ v: UnsafeBufferPointer<UInt8>) throws(HTTPError) -> HTTPVersion {
        // "HTTP/" DIGIT "." DIGIT
        guard v.count == 8, v[0] == 0x48, v[1] == 0x54, v[2] == 0x54, v[3] == 0x50, v[4] == 0x2F,
              (0x30...0x39).contains(v[5]), v[6] == 0x2E, (0x30...0x39).contains(v[7])
        else { throw .badRequest("malformed request line: bad HTTP version") }
        let version = HTTPVersion(major: Int(v[5] - 0x30), minor: Int(v[7] - 0x30))
        guard version == .http1_1 || version == .http1_0 else {
            throw HTTPError(status: 505, detail: "\(version) is not supported; use HTTP/1.1")
        }
        return version
    }

    /// Origin form (`/p?q`), absolute form (`http://h/p?q`) or `*` for OPTIONS.
    mutating func parseTarget(_ target: UnsafeBufferPointer<UInt8>, method: HTTPMethod) throws(HTTPError) {
        var start = 0
        if target[0] == 0x2F {
            start = 0
        } else if target.count == 1 && target[0] == 0x2A {
            guard method == .options else { throw .badRequest("request target * is only for OPTIONS") }
            path = "*"
            return
        } else if let afterScheme = Self.schemeEnd(target) {
            var i = afterScheme
            while i < target.count, target[i] != 0x2F, target[i] != 0x3F { i += 1 }
            guard i > afterScheme else { throw .badRequest("absolute request target has no host") }
            if i == target.count || target[i] == 0x3F {
                path = "/"
                if i < target.count { query = Self.parseQuery(UnsafeBufferPointer(rebasing: target[(i + 1)...])) }
                return
            }
            start = i
        } else {
            throw .badRequest("request target must start with /")
        }
        var end = start
        while end < target.count, target[end] != 0x3F {
            if target[end] == 0x23 { throw .badRequest("request target contains a fragment (#)") }
            end += 1
        }
        path = String(decoding: UnsafeBufferPointer(rebasing: target[start..<end]), as: UTF8.self)
        if end < target.count {
            query = Self.parseQuery(UnsafeBufferPointer(rebasing: target[(end + 1)...]))
        }
    }

    /// The index after `http://` or `https://` (case-insensitive), if the target starts so.
    static func schemeEnd(_ t: UnsafeBufferPointer<UInt8>) -> Int? {
        for scheme in ["http://", "https://"] {
            let s = Array(scheme.utf8)
            if t.count > s.count, (0..<s.count).allSatisfy({ t[$0] | 0x20 == s[$0] | (s[$0] >= 0x61 ? 0x20 : 0) }) {
                return s.count
            }
        }
        return nil
    }

    static func parseQuery(_ bytes: UnsafeBufferPointer<UInt8>) -> [String: String] {
        var result: [String: String] = [:]
        for pair in bytes.split(separator: 0x26, omittingEmptySubsequences: true) {
            if pair.first == 0x23 { break }
            let parts = pair.split(separator: 0x3D, maxSplits: 1, omittingEmptySubsequences: false)
            let key = PercentDecoding.decode(parts[0], plusAsSpace: true)
            guard !key.isEmpty else { continue }
            result[key] = parts.count > 1 ? PercentDecoding.decode(parts[1], plusAsSpace: true) : ""
        }
        return result
    }

    /// `name ":" OWS value OWS`; obs-fold, whitespace before the colon and control bytes are 400s.
    /// Where the name ends and the value (without the OWS) lies; the caller keeps the field.
    mutating func parseHeaderLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPError)
        -> (nameEnd: Int, valueStart: Int, valueEnd: Int)
    {
        if line[0] == 0x20 || line[0] == 0x09 { throw .badRequest("obsolete line folding in header fields") }
        let i = HeadSyntax.tokenEnd(line)
        guard i < line.count, line[i] == 0x3A else {
            throw .badRequest(i == 0 ? "header field has no name" : "malformed header field name")
        }
        guard i > 0 else { throw .badRequest("header field has no name") }
        var start = i + 1
        var end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        if let j = HeadSyntax.firstNonFieldValueByte(line, from: start, to: end) {
            throw .badRequest("control byte 0x\(String(line[j], radix: 16)) in header field value")
        }
        noteField(line, nameEnd: i, valueStart: start, valueEnd: end)
        return (i, start, end)
    }

    /// Notes what a valid field line says about framing and the connection.
    @inline(__always)
    mutating func noteField(_ line: UnsafeBufferPointer<UInt8>, nameEnd: Int, valueStart: Int, valueEnd: Int) {
        switch nameEnd {
        case 4, 6, 10, 14, 17:  // the lengths of the names `noteSpecial` looks for
            noteSpecial(UnsafeBufferPointer(rebasing: line[0..<nameEnd]), UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd]))
        default:
            break
        }
    }

    /// Framing and connection fields, kept as strings (the few a request has; other values stay bytes).
    private mutating func noteSpecial(_ name: UnsafeBufferPointer<UInt8>, _ bytes: UnsafeBufferPointer<UInt8>) {
        switch name.count {
        case 4 where HeadSyntax.equalsLower(name, "host"):
            hostCount += 1
        case 6 where HeadSyntax.equalsLower(name, "expect"):
            let value = String(decoding: bytes, as: UTF8.self)
            if value.lowercased() == "100-continue" { expectContinue = true } else { expectOther = value }
        case 10 where HeadSyntax.equalsLower(name, "connection"):
            for token in String(decoding: bytes, as: UTF8.self).split(separator: ",") {
                let t = token.trimmingSpaces.lowercased()
                if t == "close" { connectionClose = true }
                if t == "keep-alive" { connectionKeepAlive = true }
            }
        case 14 where HeadSyntax.equalsLower(name, "content-length"):
            contentLengths.append(String(decoding: bytes, as: UTF8.self))
        case 17 where HeadSyntax.equalsLower(name, "transfer-encoding"):
            transferCodings.append(contentsOf: String(decoding: bytes, as: UTF8.self)
                .split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces.lowercased() })
        default:
            break
        }
    }

    /// How the body is delimited; every ambiguity that enables smuggling is a 400.
    func framing(limits: HTTPParser.Limits) throws(HTTPError) -> Framing {
        if version == .http1_1 && hostCount == 0 { throw .badRequest("HTTP/1.1 request without a Host header") }
        if hostCount > 1 { throw .badRequest("more than one Host header") }
        if let expectOther { throw HTTPError(status: 417, detail: "unsupported expectation: \(expectOther)") }
        if !transferCodings.isEmpty {
            if version == .http1_0 { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            if !contentLengths.isEmpty { throw .badRequest("both Content-Length and Transfer-Encoding") }
            if transferCodings.contains("") { throw .badRequest("empty element in Transfer-Encoding") }
            guard transferCodings.last == "chunked" else { throw .badRequest("Transfer-Encoding does not end in chunked") }
            if transferCodings.count > 1 {
                if transferCodings.dropLast().contains("chunked") { throw .badRequest("chunked applied more than once") }
                throw HTTPError(status: 501, detail: "unsupported transfer coding: \(transferCodings[0])")
            }
            return .chunked
        }
        guard !contentLengths.isEmpty else { return .none }
        if contentLengths.count > 1 { throw .badRequest("more than one Content-Length header") }
        let text = contentLengths[0]
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let length = Int(text)
        else { throw .badRequest("invalid Content-Length: \(text.prefix(40))") }
        if length > limits.maxBodyBytes { throw HTTPParser.bodyTooLarge(limits) }
        return length == 0 ? .none : .length(length)
    }
}

/// Byte classes of RFC 9110.
enum HeadSyntax {
    /// tchar: `!#$%&'*+-.^_`|~`, digits, letters, as bits of the bytes 0–63 and 64–127 (no table
    /// behind a lazy global on the per-byte path).
    @inline(__always) static func isTokenByte(_ b: UInt8) -> Bool {
        if b < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> b & 1 != 0 }
        if b < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> (b &- 64) & 1 != 0 }
        return false
    }

    /// The index of the first byte of `line` that `isTokenByte` refuses (`line.count` if none). Eight
    /// bytes a step while every one is a letter, digit or `-` (the bytes of almost every field name);
    /// a word with any other byte gives the first such byte's index at once, and from there it goes
    /// byte by byte (that byte may still be another tchar). The range tests are exact per byte below
    /// the first byte of 0x80 or above (a carry only moves to later bytes), and that byte is refused.
    @inline(__always)
    static func tokenEnd(_ line: UnsafeBufferPointer<UInt8>) -> Int {
        var i = 0
        if let base = line.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            while i + 8 <= line.count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                // A byte's high bit is set in `letter` iff 0x61 <= byte | 0x20 <= 0x7A, and so on.
                let lower = word | ones &* 0x20
                let letter = (lower &+ ones &* (0x80 - 0x61)) & ~(lower &+ ones &* (0x80 - 0x7B))
                let digit = (word &+ ones &* (0x80 - 0x30)) & ~(word &+ ones &* (0x80 - 0x3A))
                let notDash = word ^ ones &* 0x2D
                let dash = ~(((notDash & ~highs) &+ ~highs) | notDash)
                let other = (~(letter | digit | dash) | word) & highs
                if other == 0 {
                    i += 8
                    continue
                }
                i += other.trailingZeroBitCount >> 3
                break
            }
        }
        while i < line.count, isTokenByte(line[i]) { i += 1 }
        return i
    }

    /// field-vchar, SP, HTAB, obs-text; never NUL, CR, LF, other controls or DEL.
    @inline(__always) static func isFieldValueByte(_ b: UInt8) -> Bool {
        b == 0x09 || (b >= 0x20 && b != 0x7F)
    }

    /// The index of the first byte in `start..<end` that `isFieldValueByte` refuses. Eight bytes a
    /// step while none is below 0x20 or 0x7F (exact "any byte" tests on a word); a word with one (a
    /// tab, or a byte to refuse) goes byte by byte from there.
    static func firstNonFieldValueByte(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
        var i = start
        if let base = line.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            while i + 8 <= end {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                let below20 = (word &- ones &* 0x20) & ~word & highs
                let del = word ^ (ones &* 0x7F)
                let is7F = (del &- ones) & ~del & highs
                if below20 | is7F != 0 { break }
                i += 8
            }
        }
        // The last few bytes after a clean run (no word refused): one more word, overlapping the ones
        // checked, when the value is that long.
        if i < end, i + 8 > end, end - start >= 8, let base = line.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            let word = UnsafeRawPointer(base + end - 8).loadUnaligned(as: UInt64.self)
            let below20 = (word &- ones &* 0x20) & ~word & highs
            let del = word ^ (ones &* 0x7F)
            let is7F = (del &- ones) & ~del & highs
            if below20 | is7F == 0 { return nil }
        }
        while i < end {
            if !isFieldValueByte(line[i]) { return i }
            i += 1
        }
        return nil
    }

    /// Where the field value starting at `start` ends: the index of its CR when every byte before it
    /// is a field-value byte other than a tab and LF follows the CR; nil otherwise (a tab, a byte to
    /// refuse, or the line not complete in the first `count` bytes), for the general path to decide.
    /// Eight bytes a step; in a word with a byte below 0x20 or 0x7F, the first such byte is exact
    /// (borrows only run from it upwards), so no byte-by-byte pass follows.
    @inline(__always)
    static func lineEnd(_ base: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = start
        while true {
            var word: UInt64
            var valid = highs
            if i + 8 <= count {
                word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            } else {
                // The last bytes: the word ending at `count` (the request line is before it), shifted
                // down to start at `i`, with only the bytes up to `count` looked at.
                guard i < count, count >= 8 else { return nil }
                let shift = UInt64(8 * (i - (count - 8)))
                word = UnsafeRawPointer(base + count - 8).loadUnaligned(as: UInt64.self) >> shift
                valid = highs >> shift
            }
            let below20 = (word &- ones &* 0x20) & ~word & highs
            let del = word ^ (ones &* 0x7F)
            let is7F = (del &- ones) & ~del & highs
            let flagged = (below20 | is7F) & valid
            if flagged == 0 {
                if valid != highs { return nil }
                i += 8
                continue
            }
            let at = i + flagged.trailingZeroBitCount >> 3
            guard base[at] == 0x0D, at + 1 < count, base[at + 1] == 0x0A else { return nil }
            return at
        }
    }

    /// `bytes` equals the lowercase ASCII `lower`, ignoring case.
    static func equalsLower(_ bytes: UnsafeBufferPointer<UInt8>, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for i in 0..<bytes.count where bytes[i] | 0x20 != l[i] { return false }
        return true
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

/// Percent-decoding for path parameters and query strings; malformed escapes are kept as they are.
enum PercentDecoding {
    static func decode<C: Collection>(_ bytes: C, plusAsSpace: Bool) -> String where C.Element == UInt8 {
        guard bytes.contains(where: { $0 == 0x25 || (plusAsSpace && $0 == 0x2B) }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let b = bytes[i]
            if b == 0x25 {
                let h = bytes.index(after: i)
                if h != bytes.endIndex, bytes.index(after: h) != bytes.endIndex,
                   let hi = HTTPParser.hexValue(bytes[h]), let lo = HTTPParser.hexValue(bytes[bytes.index(after: h)])
                {
                    out.append(UInt8(hi << 4 | lo))
                    i = bytes.index(h, offsetBy: 2)
                    continue
                }
            }
            out.append(plusAsSpace && b == 0x2B ? 0x20 : b)
            i = bytes.index(after: i)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
