import Testing
@testable import RedisClient

/// Commands framed by hiredis from collected arguments are RESP's multi-bulk form, whichever way they were built.
@Suite struct RESPEncoderTests {
    /// RESP2's framing, spelled out: `*<count>\r\n`, then `$<length>\r\n<bytes>\r\n` per argument.
    static func framed(_ arguments: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments { out += Array("$\(argument.count)\r\n".utf8) + argument + [13, 10] }
        return out
    }

    @Test func commands_areFramedAsRESPMultiBulk_whetherListedOrCollectedInTwoParts() {
        var rng = SystemRandomNumberGenerator()
        var commands: [[RedisArgument]] = [["PING"], ["SET", "k", ""], ["GET", RedisArgument([0, 13, 10, 255])],
                                           ["INCRBY", "n", RedisArgument(-9_223_372_036_854_775_807 - 1)], [""]]
        for _ in 0..<500 {
            let count = Int.random(in: 1...40, using: &rng)
            commands.append((0..<count).map { _ in
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: RedisArgument(Int.random(in: .min ... .max, using: &rng))
                case 1: RedisArgument((0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
                default: RedisArgument(String(repeating: "é", count: Int.random(in: 0...20, using: &rng)))
                }
            })
        }
        for command in commands {
            let expected = Self.framed(command.map(\.bytes))
            #expect(RESPEncoder.encode(command) == expected)
            let split = Int.random(in: 0...command.count, using: &rng)
            var head = RESPArguments(), body = RESPArguments()
            head.append(contentsOf: Array(command[..<split]))
            body.append(contentsOf: Array(command[split...]))
            var out: [UInt8] = []
            RESPEncoder.encode(head, body, into: &out)
            #expect(out == expected)
        }
    }

    @Test func collectedArguments_areTheBytesOfTheListedOnes() {
        let listed: [RedisArgument] = ["key", RedisArgument([1, 2, 3]), RedisArgument(0), RedisArgument(-42), RedisArgument(123_456_789),
                                       RedisArgument(Int.min), ""]
        var collected = RESPArguments()
        collected.append("key")
        collected.append([1, 2, 3])
        collected.append(0)
        collected.append(-42)
        collected.append(123_456_789)
        collected.append(Int.min)
        collected.append("")
        #expect(collected.count == listed.count)
        #expect(collected.lengths == listed.map(\.bytes.count))
        #expect(collected.bytes == listed.flatMap(\.bytes))
        var out: [UInt8] = []
        RESPEncoder.encode(collected, into: &out)
        #expect(out == RESPEncoder.encode(listed))
    }
}
