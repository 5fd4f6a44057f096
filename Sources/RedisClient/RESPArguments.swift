/// A command's arguments written as RESP bulk strings (`$<length>\r\n<bytes>\r\n`) the moment they are
/// added, into one growing buffer: a hot path (a submit's script call, a group's thousands of arguments)
/// then makes no `RedisArgument` array, no copy per argument and no second formatting pass.
///
/// ```swift
/// var arguments = RESPArguments()
/// arguments.append("celery")          // a key
/// arguments.append(envelope)          // bytes
/// arguments.append(86_400)            // an integer, as its decimal digits
/// ```
public struct RESPArguments: Sendable {
    /// The arguments so far, RESP-encoded back to back (without the `*<count>` line).
    public private(set) var bytes: [UInt8] = []
    /// How many arguments were appended.
    public private(set) var count = 0

    /// An empty list that reserves `capacity` bytes up front.
    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Makes room for `capacity` bytes in all (a big call knows roughly how big it gets).
    public mutating func reserveCapacity(_ capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Appends a text argument (its UTF-8 bytes).
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a binary argument.
    public mutating func append(_ value: [UInt8]) {
        value.withUnsafeBytes { append($0) }
    }

    /// Appends an integer argument as its decimal digits (what `String(value)` gives).
    public mutating func append(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: Int.min has 20 characters
        withUnsafeMutableBytes(of: &digits) { buffer in
            let start = RESP.digits(value, endingAt: buffer.count, in: buffer)
            append(UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Appends arguments built the general way.
    public mutating func append(contentsOf arguments: [RedisArgument]) {
        for argument in arguments { append(argument.bytes) }
    }

    /// Appends one argument's bytes.
    public mutating func append(_ raw: UnsafeRawBufferPointer) {
        RESP.writeBulk(raw, to: &bytes)
        count += 1
    }
}

/// RESP2's framing, written in Swift: `*<count>\r\n` then each argument as `$<length>\r\n<bytes>\r\n` — the
/// bytes hiredis's `redisFormatCommandArgv` produces (a test holds the two equal), without its `sprintf`
/// per argument or the C copy of every argument it needs.
enum RESP {
    /// Appends a bulk string: `$<length>\r\n<bytes>\r\n`.
    static func writeBulk(_ raw: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        writeLine(UInt8(ascii: "$"), raw.count, to: &out)
        out.append(contentsOf: raw)
        out.append(13)
        out.append(10)
    }

    /// Appends `<marker><value>\r\n` (`*3\r\n`, `$40\r\n`).
    static func writeLine(_ marker: UInt8, _ value: Int, to out: inout [UInt8]) {
        var line: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes: marker, 20 digits, CRLF
        withUnsafeMutableBytes(of: &line) { buffer in
            buffer[buffer.count - 2] = 13
            buffer[buffer.count - 1] = 10
            var start = digits(value, endingAt: buffer.count - 2, in: buffer)
            start -= 1
            buffer[start] = marker
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Writes the decimal digits of `value` so that they end just before `end`; returns where they start.
    static func digits(_ value: Int, endingAt end: Int, in buffer: UnsafeMutableRawBufferPointer) -> Int {
        var k = end
        var magnitude = value.magnitude
        repeat {
            k -= 1
            buffer[k] = UInt8(48 + magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            k -= 1
            buffer[k] = UInt8(ascii: "-")
        }
        return k
    }
}
