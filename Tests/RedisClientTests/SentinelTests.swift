import Foundation
import Sockets
import Testing
@testable import RedisClient
import TestSupport

@Suite(.serialized) struct SentinelTests {
    @Test func kombuSentinelURL_parsesEverySentinel_theMasterName_andBothPasswords() throws {
        let url = "sentinel://:secret@10.0.0.1:26379;sentinel://:secret@10.0.0.2:26380;sentinel://10.0.0.3/2"
            + "?master_name=orders&sentinel_password=s%40pw&sentinel_username=watcher"
        let configuration = try RedisConfiguration(url: url)
        #expect(configuration.sentinel?.sentinels == [.tcp(host: "10.0.0.1", port: 26379), .tcp(host: "10.0.0.2", port: 26380),
                                                      .tcp(host: "10.0.0.3", port: 6379)])
        #expect(configuration.sentinel?.masterName == "orders")
        #expect(configuration.sentinel?.username == "watcher")
        #expect(configuration.sentinel?.password == "s@pw")
        #expect(configuration.password == "secret")
        #expect(configuration.database == 2)
        #expect(!configuration.description.contains("secret"))
    }

    @Test func sentinelURL_withoutAMasterName_saysHowToGiveOne() {
        #expect { try RedisConfiguration(url: "sentinel://127.0.0.1:26379") } throws: { error in
            "\(error)".contains("--sentinel-master")
        }
    }

    @Test func client_findsTheMaster_throughTheSentinels() async throws {
        let cluster = try SentinelCluster.start()
        defer { cluster.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: cluster.url))
        defer { client.close() }
        try await client.send(["SET", "k", "v"])
        #expect(try await Self.port(of: client) == cluster.servers[0].port)
    }

    @Test func sentinelAndRedisPasswords_andTheACLUser_areSentToEach() async throws {
        let cluster = try SentinelCluster.start(password: "redis-secret", sentinelPassword: "sentinel-secret")
        defer { cluster.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: cluster.url))
        defer { client.close() }
        #expect(try await client.send(["ACL", "WHOAMI"]).string == "default")
        #expect(try await Self.port(of: client) == cluster.servers[0].port)
        // Without the Sentinels' password no master is found, and the error says why.
        let unauthenticated = RedisClient(configuration: try RedisConfiguration(url: cluster.url.replacingOccurrences(of: "&sentinel_password=sentinel-secret", with: "")))
        defer { unauthenticated.close() }
        await #expect { try await unauthenticated.send(["PING"]) } throws: { "\($0)".contains("NOAUTH") }
    }

    @Test func killedPrimary_clientFollowsThePromotedReplica_withOnlyConnectivityErrorsMeanwhile() async throws {
        let cluster = try SentinelCluster.start()
        defer { cluster.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: cluster.url))
        defer { client.close() }
        let reconnects = Locked([String]())
        client.onReconnect { address in reconnects.withLock { $0.append(address) } }
        try await client.send(["SET", "before", "1"])
        #expect(try await client.send(["WAIT", "2", "2000"]) == .integer(2))
        let killedAt = Date()
        cluster.servers[0].stop()
        var otherErrors: [String] = []
        let followed = await waitUntil(timeout: 20, interval: 0.05) {
            do {
                try await client.send(["SET", "after", "1"])
                return try await Self.port(of: client) != cluster.servers[0].port
            } catch let error as RedisError where error.isConnectivity {
                return false
            } catch {
                otherErrors.append("\(error)")
                return false
            }
        }
        #expect(followed, "the client did not follow the failover: \(cluster.sentinels[0].log)")
        #expect(Date().timeIntervalSince(killedAt) < 25)
        #expect(otherErrors.isEmpty)
        // On a loaded run the Sentinels may fail over a second time (a first attempt that timed out):
        // the client follows that one too, so it ends on the master the Sentinels name.
        #expect(await waitUntil(timeout: 20, interval: 0.1) { (try? await Self.port(of: client)) == cluster.masterPort() })
        #expect(try await client.send(["GET", "before"]).string == "1")
        #expect(await waitUntil(timeout: 30) { !reconnects.withLock { $0.isEmpty } })
    }

    @Test func forcedFailover_oldMasterStillUp_clientMovesToTheNewMaster_andNeverWritesToTheReplica() async throws {
        let cluster = try SentinelCluster.start()
        defer { cluster.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: cluster.url))
        defer { client.close() }
        try await client.send(["SET", "before", "1"])
        // SENTINEL FAILOVER demotes the live master: only +switch-master or -READONLY can tell the client.
        #expect(try cluster.sentinels[0].command("SENTINEL FAILOVER \(cluster.name)").hasPrefix("+OK"))
        var otherErrors: [String] = []
        let moved = await waitUntil(timeout: 20, interval: 0.05) {
            do {
                try await client.send(["INCR", "writes"])
                return try await Self.port(of: client) != cluster.servers[0].port
            } catch let error as RedisError where error.isConnectivity {
                return false
            } catch {
                otherErrors.append("\(error)")
                return false
            }
        }
        #expect(moved)
        #expect(otherErrors.isEmpty)
        #expect(try await Self.port(of: client) == cluster.masterPort())
    }

    /// The port of the server the client's shared connection is on.
    static func port(of client: RedisClient) async throws -> Int? {
        let reply = try await client.send(["CONFIG", "GET", "port"])
        return reply.array?.last?.string.flatMap { Int($0) }
    }
}
