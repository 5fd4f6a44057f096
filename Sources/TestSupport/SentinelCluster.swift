import Foundation
import Glibc

/// A real primary, two replicas and three `redis-sentinel` processes on loopback free ports, watching
/// the master `name` with a 1 s down-after (a SIGKILLed primary is replaced in about 2-3 s).
///
/// ```swift
/// let cluster = try SentinelCluster.start()
/// defer { cluster.stop() }
/// let url = cluster.url   // "sentinel://127.0.0.1:p1;sentinel://127.0.0.1:p2;sentinel://127.0.0.1:p3/0?master_name=mymaster"
/// ```
public final class SentinelCluster: @unchecked Sendable {
    public let name: String
    /// Index 0 is the first primary; a failover promotes one of the others.
    public let servers: [RedisServer]
    public let sentinels: [SentinelProcess]

    /// The kombu-form broker URL naming the three Sentinels and the master.
    public var url: String {
        let auth = password.map { "default:\($0)@" } ?? ""
        let query = sentinelPassword.map { "&sentinel_password=\($0)" } ?? ""
        return sentinels.map { "sentinel://\(auth)127.0.0.1:\($0.port)" }.joined(separator: ";") + "/0?master_name=\(name)\(query)"
    }
    /// Redis's `requirepass` (and `masterauth`), given in the URL as the ACL user `default`.
    public let password: String?
    /// The Sentinels' own `requirepass`.
    public let sentinelPassword: String?

    private init(name: String, servers: [RedisServer], sentinels: [SentinelProcess], password: String?, sentinelPassword: String?) {
        self.name = name
        self.password = password
        self.sentinelPassword = sentinelPassword
        self.servers = servers
        self.sentinels = sentinels
    }

    deinit { stop() }

    /// Starts everything and waits until both replicas are in sync and every Sentinel knows them and the
    /// other two Sentinels (before that a failover could not be authorised); throws a clear error otherwise.
    /// `downAfter`: seconds before the Sentinels call a silent primary down (how long an outage lasts).
    public static func start(name: String = "mymaster", password: String? = nil, sentinelPassword: String? = nil,
                             downAfter: Double = 1, timeout: Double = 30) throws -> SentinelCluster {
        let auth = password.map { ["--requirepass", $0, "--masterauth", $0] } ?? []
        let primary = try RedisServer.start(extraArguments: auth)
        let replicas = try (0..<2).map { _ in
            try RedisServer.start(extraArguments: auth + ["--replicaof", "127.0.0.1", String(primary.port)])
        }
        let sentinels = try (0..<3).map { _ in
            try SentinelProcess.start(monitoring: name, primaryPort: primary.port, authPass: password, requirePass: sentinelPassword,
                                      downAfter: downAfter)
        }
        let cluster = SentinelCluster(name: name, servers: [primary] + replicas, sentinels: sentinels,
                                      password: password, sentinelPassword: sentinelPassword)
        let login = password.map { "AUTH \($0)\r\n" } ?? ""
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if sentinels.allSatisfy({ $0.knows(name: name, replicas: 2, otherSentinels: 2) }),
               let info = try? rawCommand(port: primary.port, login + "INFO replication\r\n"),
               info.components(separatedBy: "state=online").count == 3 { return cluster }
            usleep(50_000)
        }
        cluster.stop()
        throw TestSupportError("the Sentinels did not discover each other and both replicas within \(timeout)s: "
            + sentinels.map(\.log).joined(separator: "\n---\n"))
    }

    /// The port of the server the Sentinels currently name as master (nil if none answers).
    public func masterPort() -> Int? {
        for sentinel in sentinels {
            guard let reply = try? sentinel.command("SENTINEL get-master-addr-by-name \(name)") else { continue }
            // "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n12345\r\n"
            let lines = reply.split(separator: "\r\n")
            if lines.count >= 5, let port = Int(lines[4]) { return port }
        }
        return nil
    }

    /// The server the Sentinels currently name as master.
    public func master() -> RedisServer? {
        masterPort().flatMap { port in servers.first { $0.port == port } }
    }

    /// Stops every process (SIGKILL).
    public func stop() {
        for sentinel in sentinels { sentinel.stop() }
        for server in servers { server.stop() }
    }
}
