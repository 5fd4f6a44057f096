import Testing
@testable import RedisClient
import Sockets

@Suite struct RESPReaderTests {
    private func parseAll(_ text: String) throws -> [RESPValue] {
        let reader = RESPReader()
        try reader.feed(Array(text.utf8))
        var out: [RESPValue] = []
        while let v = try reader.next() { out.append(v) }
        return out
    }

    @Test func parses_everyReplyType() throws {
        let replies = try parseAll("+OK\r\n-ERR bad thing\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n$0\r\n\r\n")
        #expect(replies == [.simpleString("OK"), .error("ERR bad thing"), .integer(42), .bulkString(Array("hello".utf8)),
                            .null, .null, .bulkString([])])
    }

    @Test func parses_nestedArrays_withNilElements() throws {
        let replies = try parseAll("*3\r\n*2\r\n:1\r\n$1\r\na\r\n$-1\r\n*0\r\n")
        #expect(replies == [.array([.array([.integer(1), .bulkString([97])]), .null, .array([])])])
    }

    @Test func partialReplies_waitForMoreBytes_atEverySplit() throws {
        let text = Array("*2\r\n$5\r\nhello\r\n:-7\r\n+PONG\r\n".utf8)
        for split in 0...text.count {
            let reader = RESPReader()
            var out: [RESPValue] = []
            try reader.feed(Array(text[0..<split]))
            while let v = try reader.next() { out.append(v) }
            try reader.feed(Array(text[split...]))
            while let v = try reader.next() { out.append(v) }
            #expect(out == [.array([.bulkString(Array("hello".utf8)), .integer(-7)]), .simpleString("PONG")], "split at \(split)")
        }
    }

    @Test func binaryBulkStrings_keepEveryByte() throws {
        let reader = RESPReader()
        try reader.feed([UInt8]("$4\r\n".utf8) + [0, 13, 10, 255] + [UInt8]("\r\n".utf8))
        #expect(try reader.next() == .bulkString([0, 13, 10, 255]))
    }

    @Test func garbage_isAProtocolError_notACrash() throws {
        let reader = RESPReader()
        try? reader.feed(Array("?what\r\n".utf8))
        #expect(throws: RedisError.self) { _ = try reader.next() }
    }

    @Test func encoder_matchesRESP_forBinaryArguments() {
        let bytes = RESPEncoder.encode(["SET", "k", RedisArgument([0, 10, 13])])
        #expect(bytes == Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n".utf8) + [0, 10, 13] + Array("\r\n".utf8))
        #expect(RESPEncoder.encode(["GET", ""]) == Array("*2\r\n$3\r\nGET\r\n$0\r\n\r\n".utf8))
    }

    @Test func urls_parse_allForms() throws {
        let a = try RedisConfiguration(url: "redis://:s%40cret@10.0.0.5:6380/2")
        #expect(a.address == .tcp(host: "10.0.0.5", port: 6380))
        #expect(a.password == "s@cret")
        #expect(a.username == nil)
        #expect(a.database == 2)
        #expect(a.description == "redis://:**@10.0.0.5:6380/2")
        let b = try RedisConfiguration(url: "redis://user:pw@host")
        #expect(b.username == "user")
        #expect(b.address == .tcp(host: "host", port: 6379))
        let c = try RedisConfiguration(url: "unix:///run/redis.sock?db=3")
        #expect(c.address == .unix(path: "/run/redis.sock"))
        #expect(c.database == 3)
        let d = try RedisConfiguration(url: "redis://[::1]:7000/0")
        #expect(d.address == .tcp(host: "::1", port: 7000))
    }

    @Test(arguments: ["http://x", "redis://host:99999", "redis://host/abc", "unix://relative.sock", "redis://host:-1"])
    func badURLs_sayWhatIsWrong(url: String) {
        #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
    }
}

@Suite struct RedisErrorTests {
    @Test func loadingAndReplicaErrors_countAsConnectivity_notAsBugs() {
        #expect(RedisError.server(command: "EVALSHA", message: "LOADING Redis is loading the dataset in memory").isConnectivity)
        #expect(RedisError.server(command: "GET", message: "MASTERDOWN Link with MASTER is down").isConnectivity)
        #expect(!RedisError.server(command: "INCR", message: "ERR value is not an integer").isConnectivity)
    }
}
