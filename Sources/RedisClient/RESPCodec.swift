import CHiredis

/// Encodes commands with hiredis's argv formatter: binary-safe, no variadic C.
public enum RESPEncoder {
    /// Where a zero-length argument in an empty buffer points (hiredis reads no byte of it).
    nonisolated(unsafe) private static let emptyArgument = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))

    /// Appends the RESP encoding of one command to `out`.
    public static func encode(_ arguments: [RedisArgument], into out: inout [UInt8]) {
        var collected = RESPArguments(capacity: arguments.reduce(0) { $0 + $1.bytes.count })
        collected.append(contentsOf: arguments)
        encode(collected, into: &out)
    }

    /// The RESP encoding of one command.
    public static func encode(_ arguments: [RedisArgument]) -> [UInt8] {
        var out: [UInt8] = []
        encode(arguments, into: &out)
        return out
    }

    /// Appends one command whose arguments are `head`'s then `body`'s (a script call's EVALSHA, SHA1
    /// and key count, then its keys and arguments), framed by hiredis straight from both buffers.
    public static func encode(_ head: RESPArguments, _ body: RESPArguments = RESPArguments(capacity: 0),
                              into out: inout [UInt8]) {
        let count = head.count + body.count
        guard count > 0 else { return }
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(count)
        let lengths = head.lengths + body.lengths
        var target: UnsafeMutablePointer<CChar>?
        let length = head.bytes.withUnsafeBytes { headBytes in
            body.bytes.withUnsafeBytes { bodyBytes in
                for (part, raw) in [(head, headBytes), (body, bodyBytes)] {
                    // hiredis copies each argument from its pointer; a zero-length one needs a valid pointer too.
                    let base = raw.baseAddress ?? emptyArgument
                    var offset = 0
                    for length in part.lengths {
                        pointers.append((base + offset).assumingMemoryBound(to: CChar.self))
                        offset += length
                    }
                }
                return pointers.withUnsafeMutableBufferPointer { p in
                    lengths.withUnsafeBufferPointer { l in redisFormatCommandArgv(&target, Int32(count), p.baseAddress, l.baseAddress) }
                }
            }
        }
        guard length > 0, let target else { return }
        defer { redisFreeCommand(target) }
        target.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { bytes in
            out.append(contentsOf: UnsafeBufferPointer(start: bytes, count: Int(length)))
        }
    }
}

/// Decodes replies with hiredis's reader: feed bytes, take whole replies. It does no I/O.
/// It owns its `redisReader` and frees it in `deinit`; one thread uses it at a time.
public final class RESPReader {
    private let reader: UnsafeMutablePointer<redisReader>

    public init() {
        reader = redisReaderCreate()
    }

    deinit { redisReaderFree(reader) }

    /// Adds bytes received from the socket.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let rc = redisReaderFeed(reader, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        if rc != REDIS_OK { throw RedisError.protocolError(errorText()) }
    }

    public func feed(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try feed($0) }
    }

    /// The next complete reply, or nil when more bytes are needed. A protocol error is thrown and
    /// the reader (and its connection) must be discarded.
    public func next() throws -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        let rc = redisReaderGetReply(reader, &raw)
        if rc != REDIS_OK { throw RedisError.protocolError(errorText()) }
        guard let raw else { return nil }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    private func errorText() -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let r = reply.pointee
        func text() -> [UInt8] {
            guard let str = r.str, r.len > 0 else { return [] }
            return str.withMemoryRebound(to: UInt8.self, capacity: Int(r.len)) {
                Array(UnsafeBufferPointer(start: $0, count: Int(r.len)))
            }
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .bulkString(text())
        case REDIS_REPLY_STATUS: return .simpleString(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(r.integer)
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            var items: [RESPValue] = []
            items.reserveCapacity(Int(r.elements))
            for i in 0..<Int(r.elements) {
                if let element = r.element[i] { items.append(convert(element)) } else { items.append(.null) }
            }
            return .array(items)
        default: return .error("unknown reply type \(r.type)")
        }
    }
}
