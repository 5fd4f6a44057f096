import Foundation
import Testing
@testable import RedisClient
import TestSupport

@Suite struct ReplicaAckTests {
    static let script = RedisScript(name: "set", source: "return redis.call('SET', KEYS[1], ARGV[1])")

    @Test func withoutEnoughReplicas_aScriptIsUnconfirmed_asAConnectivityError() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        var configuration = try RedisConfiguration(url: server.url)
        configuration.minReplicasAck = 1
        configuration.replicaAckTimeoutMilliseconds = 100
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        await #expect { try await client.evaluate(Self.script, keys: ["k"], arguments: ["v"]) } throws: { error in
            (error as? RedisError)?.isConnectivity == true && "\(error)".contains("NOREPLICAS 0 of 1")
        }
        await #expect { try await client.transaction([["SET", "t", "1"]]) } throws: { "\($0)".contains("NOREPLICAS") }
    }

    @Test func withAReplica_aConfirmedScriptIsAlreadyOnTheReplica() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let replica = try RedisServer.start(extraArguments: ["--replicaof", "127.0.0.1", String(server.port)])
        defer { replica.stop() }
        var configuration = try RedisConfiguration(url: server.url)
        configuration.minReplicasAck = 1
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        #expect(await waitUntil(timeout: 30) { (try? await client.send(["WAIT", "1", "100"]))?.integer == 1 })
        for i in 0..<50 {
            _ = try await client.evaluate(Self.script, keys: [RedisArgument("k\(i)")], arguments: [RedisArgument("v\(i)")])
            #expect(try rawCommand(port: replica.port, "GET k\(i)\r\n").contains("v\(i)"))
        }
    }
}
