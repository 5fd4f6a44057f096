/// A Redis reply (RESP2, which is what hiredis 0.14 speaks).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    case array([RESPValue])
    /// A nil bulk string or a nil array (`$-1`, `*-1`), e.g. GET of a missing key or a BRPOP timeout.
    case null

    /// The text of a bulk or simple string.
    public var string: String? {
        switch self {
        case .bulkString(let b): String(decoding: b, as: UTF8.self)
        case .simpleString(let s): s
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let b): b
        case .simpleString(let s): Array(s.utf8)
        default: nil
        }
    }

    public var integer: Int64? {
        switch self {
        case .integer(let i): i
        case .bulkString, .simpleString: string.flatMap { Int64($0) }
        default: nil
        }
    }

    public var array: [RESPValue]? { if case .array(let a) = self { a } else { nil } }
    /// An HGETALL reply as a dictionary (empty for a missing key or anything but field/value pairs).
    public var fields: [String: String] {
        var out: [String: String] = [:]
        guard let items = array else { return out }
        for k in stride(from: 0, to: items.count - 1, by: 2) {
            if let key = items[k].string, let value = items[k + 1].string { out[key] = value }
        }
        return out
    }
    public var isNull: Bool { self == .null }

    /// Throws the server's error text when this reply is an error.
    @discardableResult
    public func throwingError(command: String) throws -> RESPValue {
        if case .error(let message) = self { throw RedisError.server(command: command, message: message) }
        return self
    }
}

/// One argument of a Redis command: binary-safe bytes.
public struct RedisArgument: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(_ int: Int) { self.bytes = Array(String(int).utf8) }
    public init(_ double: Double) { self.bytes = Array(String(double).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(integerLiteral value: Int) { self.init(value) }
}
