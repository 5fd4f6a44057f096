/// A command's arguments collected back to back in one buffer, with each one's length: a hot path (a
/// submit's script call, a group's thousands of arguments) then makes no `RedisArgument` array and no
/// copy per argument; `RESPEncoder` hands hiredis pointers into the buffer to frame them.
///
/// ```swift
/// var arguments = RESPArguments()
/// arguments.append("celery")          // a key
/// arguments.append(envelope)          // bytes
/// arguments.append(86_400)            // an integer, as its decimal digits
/// ```
public struct RESPArguments: Sendable {
    /// The arguments' bytes, back to back (no framing).
    public private(set) var bytes: [UInt8] = []
    /// Each argument's length, in order.
    public private(set) var lengths: [Int] = []
    /// How many arguments were appended.
    public var count: Int { lengths.count }

    /// An empty list that reserves `capacity` bytes up front.
    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
        lengths.reserveCapacity(16)
    }

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
            var k = buffer.count
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
            append(UnsafeRawBufferPointer(rebasing: buffer[k...]))
        }
    }

    /// Appends arguments built the general way.
    public mutating func append(contentsOf arguments: [RedisArgument]) {
        for argument in arguments { append(argument.bytes) }
    }

    /// Appends one argument's bytes.
    public mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
        lengths.append(raw.count)
    }
}
