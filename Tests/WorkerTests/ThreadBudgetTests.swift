import Foundation
import Glibc
import Testing
import TestSupport

/// A worker process's threads do not grow with its queues or its concurrency: every Redis socket
/// (the blocking watchers included) lives on one event loop.
@Suite struct ThreadBudgetTests {
    static var binary: String {
        ProcessInfo.processInfo.environment["CELERIAC_BIN"] ?? RepoPaths.root.appendingPathComponent(".build/debug/celeriac").path
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs the celeriac binary (CELERIAC_BIN)"))
    func anIdleWorker_onThreeQueuesWithConcurrency8_runsAtMostCoresPlus4Threads() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        let process = try ChildProcess.spawn(Self.binary, ["worker", "-Q", "a,b,c", "-c", "8", "--quiet", "-l", "warning", "-n", "budget@test"],
                                             environment: ["REDIS_URL": server.url, "PATH": "/usr/bin:/bin"])
        defer { process.killAndReap() }
        let client = try RedisClientForTests(port: server.port)
        // Idle means every band list of a, b and c (4 each) has its watcher blocked in BLMOVE.
        #expect(await waitUntil(timeout: 20) { client.blockedClients() >= 12 })
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/task").count
        #expect(threads <= cores + 4, "\(threads) threads with \(cores) cores")
    }
}

/// The few raw commands this suite needs, without a RedisClient of its own.
private struct RedisClientForTests {
    let port: Int
    init(port: Int) throws { self.port = port }

    func blockedClients() -> Int {
        guard let info = try? rawCommand(port: port, "INFO clients\r\n"),
              let line = info.split(separator: "\r\n").first(where: { $0.hasPrefix("blocked_clients:") }) else { return 0 }
        return Int(line.dropFirst("blocked_clients:".count)) ?? 0
    }
}
