import Foundation
import Logging
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport
import Worker

/// A worker with `--min-replicas-ack 1`: a result and its ack count only once a replica has them.
@Suite(.serialized) struct ReplicaAckWorkerTests {
    @Test func aResultNoReplicaConfirms_keepsTheTaskInFlightAndRetried_andIsOnTheReplicaOnceItReturns() async throws {
        let primary = try RedisServer.start()
        defer { primary.stop() }
        let replica = try RedisServer.start(extraArguments: ["--replicaof", "127.0.0.1", String(primary.port)])
        defer { replica.resume(); replica.stop() }
        var configuration = try RedisConfiguration(url: primary.url)
        configuration.minReplicasAck = 1
        configuration.replicaAckTimeoutMilliseconds = 200
        let redis = RedisClient(configuration: configuration)
        defer { redis.close() }
        #expect(await waitUntil(timeout: 30) { (try? await redis.send(["WAIT", "1", "100"]))?.integer == 1 })
        let broker = Broker(redis: redis)
        let results = ResultBackend(redis: redis)
        let ran = Locked(0)
        let gate = Locked(false)
        var registry = TaskRegistry()
        try registry.register(TaskDefinition(name: "t.gated", parameters: []) { _, _ in
            ran.withLock { $0 += 1 }
            while !gate.withLock({ $0 }) { try await Task.sleep(nanoseconds: 10_000_000) }
            return .int(42)
        })
        var wc = WorkerConfiguration()
        wc.nodeName = "replica-ack@host"
        wc.concurrency = 1
        wc.popTimeout = 0.2
        var logger = Logger(label: "test.replica-ack-worker")
        logger.logLevel = .critical
        let worker = Worker(configuration: wc, registry: registry, broker: broker, results: results, logger: logger)
        let running = Task { try await worker.run() }
        let message = TaskMessage.make(task: "t.gated", args: [], kwargs: [:])
        // Published without waiting for the replica (a loaded machine may take longer than the 200 ms the
        // worker allows), then confirmed on the replica before the test pauses it.
        let plain = RedisClient(configuration: try RedisConfiguration(url: primary.url))
        defer { plain.close() }
        try await Broker(redis: plain).enqueue(message)
        #expect(await waitUntil(timeout: 30) { (try? await plain.send(["WAIT", "1", "100"]))?.integer == 1 })
        #expect(await waitUntil(timeout: 30) { ran.withLock { $0 } == 1 && worker.active == 1 })

        // SIGSTOP: the replica stays connected but acknowledges nothing, so every WAIT runs out.
        replica.pause()
        gate.withLock { $0 = true }
        let resultKey = "celery-task-meta-\(message.id)"
        #expect(await waitUntil(timeout: 30) { (try? rawCommand(port: primary.port, "GET \(resultKey)\r\n"))?.contains("SUCCESS") == true },
                "the store reaches the primary")
        // Several more timed-out WAITs later (200 ms each, tries up to 2 s apart), the worker still holds
        // the task, uncounted.
        let waits = waitCalls(port: primary.port)
        #expect(await waitUntil(timeout: 40) { waitCalls(port: primary.port) >= waits + 4 })
        #expect(worker.active == 1, "an unconfirmed result is not done")
        #expect(worker.processed == 0)

        // The replica returns: the retried store is confirmed, and only then is the task counted done.
        replica.resume()
        #expect(await waitUntil(timeout: 20) { worker.processed == 1 && worker.active == 0 })
        #expect(try rawCommand(port: replica.port, "GET \(resultKey)\r\n").contains("SUCCESS"),
                "counted done only once the replica had the result")
        #expect(try rawCommand(port: replica.port, "HLEN unacked\r\n").hasPrefix(":0"), "and the ack")
        #expect(try rawCommand(port: replica.port, "LLEN celery\r\n").hasPrefix(":0"))
        #expect(ran.withLock { $0 } == 1, "ran once")
        worker.requestShutdown()
        try await running.value
    }

    /// How many WAITs the server has run (INFO commandstats).
    private func waitCalls(port: Int) -> Int {
        guard let info = try? rawCommand(port: port, "INFO commandstats\r\n"),
              let line = info.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_wait:") }),
              let calls = line.split(separator: ",").first?.split(separator: "=").last else { return 0 }
        return Int(calls) ?? 0
    }
}
