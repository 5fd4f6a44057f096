import CHiredis

/// Encodes commands as RESP. The framing is written in Swift (`RESP`); hiredis's argv formatter is
/// kept as the reference it is tested against (`encodeWithHiredis`), byte for byte.
public enum RESPEncoder {
    /// Appends the RESP encoding of one command to `out`.
    public static func encode(_ arguments: [RedisArgument], into out: inout [UInt8]) {
        RESP.writeLine(UInt8(ascii: "*"), arguments.count, to: &out)
        for argument in arguments { argument.bytes.withUnsafeBytes { RESP.writeBulk($0, to: &out) } }
    }

    public static func encode(_ arguments: [RedisArgument]) -> [UInt8] {
        var out: [UInt8] = []
        encode(arguments, into: &out)
        return out
    }

    /// The same command formatted by hiredis's `redisFormatCommandArgv`: the reference for tests.
    public static func encodeWithHiredis(_ arguments: [RedisArgument]) -> [UInt8] {
        var out: [UInt8] = []
        let count = arguments.count
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        // Keep every argument's storage alive while hiredis reads it.
        let storage = arguments.map { arg -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(arg.bytes.count, 1))
            arg.bytes.withUnsafeBytes { raw in
                if raw.count > 0 { UnsafeMutableRawPointer(p).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
            }
            return p
        }
        defer { storage.forEach { $0.deallocate() } }
        for (index, arg) in arguments.enumerated() {
            pointers.append(UnsafePointer(storage[index]))
            lengths.append(arg.bytes.count)
        }
        var target: UnsafeMutablePointer<CChar>?
        let length = pointers.withUnsafeMutableBufferPointer { p in
            lengths.withUnsafeBufferPointer { l in
                redisFormatCommandArgv(&target, Int32(count), p.baseAddress, l.baseAddress)
            }
        }
        guard length > 0, let target else { return out }
        defer { redisFreeCommand(target) }
        target.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { bytes in
            out.append(contentsOf: UnsafeBufferPointer(start: bytes, count: Int(length)))
        }
        return out
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
