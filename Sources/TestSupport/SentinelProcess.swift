import Foundation
import Glibc

/// One `redis-sentinel` on a free loopback port with a config file of its own (Sentinel rewrites it).
public final class SentinelProcess: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private let process: ChildProcess
    /// The Sentinel's `requirepass`, sent before each harness command.
    let requirePass: String?

    private init(port: Int, directory: URL, process: ChildProcess, requirePass: String?) {
        self.requirePass = requirePass
        self.port = port
        self.directory = directory
        self.process = process
    }

    deinit { stop() }

    /// The Sentinel's log, for failure messages.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("sentinel.log"), encoding: .utf8)) ?? "no log"
    }

    /// Starts a Sentinel monitoring the primary on 127.0.0.1:`primaryPort` (quorum 2, down-after
    /// `downAfter` seconds, 1 by default).
    /// `authPass` is the monitored Redis's password; `requirePass` the Sentinel's own (Sentinels use it
    /// with each other too).
    public static func start(monitoring name: String, primaryPort: Int, authPass: String? = nil, requirePass: String? = nil,
                             downAfter: Double = 1, timeout: Double = 10) throws -> SentinelProcess {
        guard let binary = which("redis-sentinel") else {
            throw TestSupportError("redis-sentinel not found on PATH: install it (make test does: apt-get install -y redis-sentinel)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("celeriac-sentinel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var lastError = "no attempt"
        for _ in 0..<5 {
            let port = try freePort()
            let config = dir.appendingPathComponent("sentinel.conf")
            try """
            port \(port)
            bind 127.0.0.1
            daemonize no
            dir \(dir.path)
            logfile \(dir.appendingPathComponent("sentinel.log").path)
            sentinel monitor \(name) 127.0.0.1 \(primaryPort) 2
            sentinel down-after-milliseconds \(name) \(Int(downAfter * 1000))
            sentinel failover-timeout \(name) 5000
            sentinel parallel-syncs \(name) 1
            \(authPass.map { "sentinel auth-pass \(name) \($0)" } ?? "")
            \(requirePass.map { "requirepass \($0)" } ?? "")

            """.write(to: config, atomically: true, encoding: .utf8)
            let process = try ChildProcess.spawn(binary, [config.path])
            let sentinel = SentinelProcess(port: port, directory: dir, process: process, requirePass: requirePass)
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline, process.isRunning {
                if let reply = try? sentinel.command("PING"), reply.hasPrefix("+PONG") { return sentinel }
                usleep(2_000)  // short steps, as `RedisServer.start` (it blocks a pool thread)
            }
            lastError = sentinel.log
            sentinel.stop()
        }
        throw TestSupportError("could not start redis-sentinel on a free port: \(lastError)")
    }

    /// True once this Sentinel has found `replicas` replicas and `otherSentinels` peers of master `name`.
    func knows(name: String, replicas: Int, otherSentinels: Int) -> Bool {
        guard let r = try? command("SENTINEL replicas \(name)"), let s = try? command("SENTINEL sentinels \(name)") else { return false }
        return r.hasPrefix("*\(replicas)\r\n") && s.hasPrefix("*\(otherSentinels)\r\n")
    }

    /// One inline command's reply (after AUTH when the Sentinel has a password; its `+OK` is dropped).
    public func command(_ text: String) throws -> String {
        guard let requirePass else { return try rawCommand(port: port, text + "\r\n") }
        let reply = try rawCommand(port: port, "AUTH \(requirePass)\r\n\(text)\r\n")
        guard reply.hasPrefix("+OK\r\n") else { throw TestSupportError("AUTH to the Sentinel failed: \(reply)") }
        return String(reply.dropFirst("+OK\r\n".count))
    }

    /// Stops the Sentinel (SIGKILL) and reaps it.
    public func stop() { process.killAndReap() }
}
