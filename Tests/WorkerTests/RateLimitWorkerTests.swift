import Foundation
import Logging
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport
import Worker

@Suite struct RateLimitWorkerTests {
    @Test func aGlobalRateLimit_holdsAcrossWorkers_whileOtherTasksOnTheQueueRunMeanwhile() async throws {
        let h = try WorkerHarness()
        let starts = Locked<[Date]>([])
        try h.registry.register(TaskDefinition(name: "t.limited", parameters: [], options: TaskOptions(rateLimit: RateLimit("5/s"))) { _, _ in
            starts.withLock { $0.append(Date()) }
            return .null
        })
        // Two workers on the same queue share the one limiter in Redis.
        var logger = Logger(label: "test.worker")
        logger.logLevel = .critical
        var workers: [Worker] = []
        var runs: [Task<Void, any Error>] = []
        for n in 0..<2 {
            var configuration = WorkerConfiguration()
            configuration.nodeName = "rate\(n)@host"
            configuration.concurrency = 4
            configuration.popTimeout = 0.2
            configuration.scheduleInterval = 0.05
            let worker = Worker(configuration: configuration, registry: h.registry, broker: h.broker, results: h.results, logger: logger)
            workers.append(worker)
            runs.append(Task { try await worker.run() })
        }
        let begin = Date()
        var limited: [String] = []
        for _ in 0..<30 { limited.append(try await h.submit("t.limited", [])) }
        let quick = try await h.submit("t.add", [1, 2])
        #expect(await waitUntil(timeout: 30) { (try? await h.results.get(quick))??.status == .success })
        let quickDone = Date()
        #expect(await waitUntil(timeout: 30) { starts.withLock { $0.count } == 30 })
        let times = starts.withLock { $0 }.sorted()
        let last = try #require(times.last)
        // The unthrottled task behind them finishes before the limited ones are through (they take ~6 s).
        #expect(quickDone < last, "the quick task waited for the throttled ones")
        #expect(last.timeIntervalSince(begin) >= 5.5, "30 starts at 5/s take ≥ 5.8 s, not \(last.timeIntervalSince(begin))")
        for start in times {
            let inWindow = times.filter { $0 >= start && $0 < start.addingTimeInterval(1) }.count
            #expect(inWindow <= 6, "\(inWindow) starts in one second at 5/s")
        }
        for worker in workers { worker.requestShutdown() }
        for run in runs { try await run.value }
    }
}
