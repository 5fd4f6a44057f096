import Foundation
import Logging
import RedisClient
import TaskProtocol
import TaskQueue
import TestSupport
import Worker

/// A real redis-server and an in-process worker around it.
final class WorkerHarness: @unchecked Sendable {
    let server: RedisServer
    let redis: RedisClient
    let broker: Broker
    let results: ResultBackend
    var registry = TaskRegistry()
    private(set) var worker: Worker?
    private var runTask: Task<Void, any Error>?

    init() throws {
        server = try RedisServer.start()
        redis = RedisClient(configuration: try RedisConfiguration(url: server.url))
        broker = Broker(redis: redis)
        results = ResultBackend(redis: redis)
        try registry.register(TaskDefinition(name: "t.add", parameters: ["a", "b"]) { args, _ in
            .int(try args.int("a") + args.int("b"))
        })
        try registry.register(TaskDefinition(name: "t.sleep", parameters: ["seconds"]) { args, _ in
            try await Task.sleep(nanoseconds: UInt64(try args.double("seconds") * 1e9))
            return "slept"
        })
        try registry.register(TaskDefinition(name: "t.boom", parameters: []) { _, _ in
            throw ExceptionInfo(type: "ValueError", message: "kaboom")
        })
    }

    func startWorker(_ configure: (inout WorkerConfiguration) -> Void = { _ in }) {
        var configuration = WorkerConfiguration()
        configuration.nodeName = "test@host"
        configuration.concurrency = 3
        configuration.popTimeout = 0.2
        configuration.scheduleInterval = 0.05
        configure(&configuration)
        var logger = Logger(label: "test.worker")
        logger.logLevel = .critical
        let worker = Worker(configuration: configuration, registry: registry, broker: broker, results: results, logger: logger)
        self.worker = worker
        runTask = Task { try await worker.run() }
    }

    func stopWorker() async throws {
        worker?.requestShutdown()
        try await runTask?.value
    }

    /// Cancels the task running the worker (a lifecycle cold shutdown) and waits for it to return.
    func cancelWorker() async throws {
        runTask?.cancel()
        try await runTask?.value
    }

    /// Registers `t.track(n)`: it records `n` when it starts, then — for the `n` in `held`, or every
    /// `n` when `held` is nil — waits until the returned gate is opened.
    func registerTracker(holding held: Set<Int64>? = nil) throws -> (ran: Locked<[Int64]>, gate: Locked<Bool>) {
        let ran = Locked<[Int64]>([])
        let gate = Locked(false)
        try registry.register(TaskDefinition(name: "t.track", parameters: ["n"]) { args, _ in
            let n = (try? args.int("n")) ?? -1
            ran.withLock { $0.append(n) }
            while held?.contains(n) ?? true, !gate.withLock({ $0 }) { try await Task.sleep(nanoseconds: 10_000_000) }
            return .null
        })
        return (ran, gate)
    }

    func submit(_ task: String, _ args: [JSONValue], options: TaskMessage.Options = .init()) async throws -> String {
        let message = TaskMessage.make(task: task, args: args, kwargs: [:], options: options)
        try await broker.enqueue(message)
        return message.id
    }

    /// Waits until the task has a ready result document (30 s by default: the whole suite's start-up can
    /// slow a test's first task by ~10 s on this 2-core machine, more when the host steals time).
    func result(_ id: String, timeout: Double = 30) async throws -> ResultDocument? {
        var found: ResultDocument?
        _ = try await waitUntil(timeout: timeout) {
            found = try await self.results.get(id)
            return found?.status.isReady == true
        }
        return found
    }

    func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: RepoPaths.celeryVectors.appendingPathComponent(name)))
    }

    deinit {
        redis.close()
        server.stop()
    }
}
