import Testing
@testable import RedisClient

/// The RESP framing written in Swift is byte for byte what hiredis's `redisFormatCommandArgv` writes.
@Suite struct RESPEncoderTests {
    @Test func commands_encodeAsHiredisFormatsThem() {
        var rng = SystemRandomNumberGenerator()
        var commands: [[RedisArgument]] = [["PING"], ["SET", "k", ""], ["GET", RedisArgument([0, 13, 10, 255])],
                                           ["INCRBY", "n", RedisArgument(-9_223_372_036_854_775_807 - 1)], []]
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
        for command in commands where !command.isEmpty {
            #expect(RESPEncoder.encode(command) == RESPEncoder.encodeWithHiredis(command))
        }
    }

    @Test func writtenArguments_areTheBulkStringsOfTheListedOnes() {
        let listed: [RedisArgument] = ["key", RedisArgument([1, 2, 3]), RedisArgument(0), RedisArgument(-42), RedisArgument(123_456_789), ""]
        var written = RESPArguments()
        written.append("key")
        written.append([1, 2, 3])
        written.append(0)
        written.append(-42)
        written.append(123_456_789)
        written.append("")
        #expect(written.count == listed.count)
        var framed: [UInt8] = []
        RESP.writeLine(UInt8(ascii: "*"), written.count, to: &framed)
        #expect(framed + written.bytes == RESPEncoder.encodeWithHiredis(listed))
    }
}
