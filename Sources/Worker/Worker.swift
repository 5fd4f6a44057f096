import DequeModule
import Foundation
import Logging
import RedisClient
import TaskProtocol
import TaskQueue

/// A worker node: pops Celery messages from Redis with blocking pops, runs up to `concurrency` of
/// them at once, writes Celery result documents, and shuts down warm on request.
///
/// ```swift
/// let worker = Worker(configuration: config, registry: registry, broker: broker, results: results, logger: logger)
/// try await worker.run()          // returns after requestShutdown() and the warm shutdown
/// ```
public final class Worker: Sendable {
    public let configuration: WorkerConfiguration
    public let registry: TaskRegistry
    public let broker: Broker
    public let results: ResultBackend
    let logger: Logger
    let slots: AsyncSemaphore
    /// Bounds results written but not yet confirmed by Redis (see `execute`).
    let pendingStores = AsyncSemaphore(256)
    /// This process's lease token: the node name plus a random instance id, so a restarted worker
    /// with the same name never passes for its dead predecessor.
    let leaseToken: String
    let state = Locked(State())

    struct State {
        var stopping = false
        var inFlight: [String: InFlight] = [:]
        var processed = 0
        var consumer: RedisConnection?
        /// Tags handed back at shutdown: their handlers' late outcomes must not be stored.
        var handedBack: Set<String> = []
        /// Held (leased) messages waiting in the consumer's prefetch buffer.
        var prefetched: [String: Broker.Fetched] = [:]
    }

    struct InFlight {
        var message: TaskMessage
        var task: Task<Void, Never>?
        /// The handler's own task, which revoke and shutdown cancel.
        var handler: Task<JSONValue, any Error>?
        /// A prefetched task's start time, until the heartbeat has written STARTED for it.
        var unmarkedStart: Date?

        func cancel() {
            handler?.cancel()
            task?.cancel()
        }
    }

    public init(configuration: WorkerConfiguration, registry: TaskRegistry, broker: Broker, results: ResultBackend,
                logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.broker = broker
        self.results = results
        self.logger = logger
        self.slots = AsyncSemaphore(max(1, configuration.concurrency))
        self.leaseToken = configuration.nodeName + "|" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    /// Number of tasks finished since start (for heartbeats and tests).
    public var processed: Int { state.withLock { $0.processed } }
    /// Number of tasks running now.
    public var active: Int { state.withLock { $0.inFlight.count } }
    public var isStopping: Bool { state.withLock { $0.stopping } }

    /// Asks for a warm shutdown: stop taking work, let in-flight tasks finish within the grace period.
    public func requestShutdown() {
        state.withLock { $0.stopping = true }
    }

    /// Consumes until shutdown is requested, then finishes or hands back in-flight tasks and returns.
    public func run() async throws {
        let background = Task { await self.backgroundLoops() }
        defer { background.cancel() }
        await consume()
        await drain()
        background.cancel()
        await deregister()
        logger.info("worker: Warm shutdown (MainProcess)")
    }

    // MARK: consuming

    private func consume() async {
        let lists = broker.consumeLists(queues: configuration.queues)
        let wakeup = Wakeup()
        let watchers = lists.map { list in Task { await self.watch(list, wakeup: wakeup) } }
        defer { watchers.forEach { $0.cancel() } }
        var backoff = 0.1
        var buffer = Deque<Broker.Fetched>()
        while !isStopping {
            await slots.acquire()
            if let next = buffer.popFirst() {
                // Prefetched and already held: no round trip between a free slot and its next task.
                state.withLock { $0.prefetched[next.tag ?? ""] = nil }
                await start(next)
                continue
            }
            // Every slot free right now is filled from one fetch, plus Celery-style prefetch.
            let slotsHeld = 1 + (await slots.tryAcquire(upTo: configuration.concurrency))
            let prefetch = max(0, configuration.concurrency * (configuration.prefetchMultiplier - 1))
            var batch: [Broker.Fetched] = []
            while !isStopping {
                do {
                    batch = try await broker.fetch(lists: lists, leaseToken: leaseToken, count: slotsHeld + prefetch,
                                                   startNow: slotsHeld, worker: configuration.nodeName)
                    backoff = 0.1
                } catch {
                    logger.error("consumer: \(error); retrying in \(String(format: "%.1f", backoff))s")
                    await pause(backoff)
                    backoff = min(backoff * 2, 5)
                    continue
                }
                if !batch.isEmpty { break }
                await wakeup.wait(timeout: configuration.popTimeout)
            }
            let now = min(batch.count, slotsHeld)
            await slots.release(slotsHeld - now)
            for fetched in batch[now...] {
                buffer.append(fetched)
                if let tag = fetched.tag { state.withLock { $0.prefetched[tag] = fetched } }
            }
            for fetched in batch[..<now] { await start(fetched) }
        }
        // Prefetched messages that never started go back to the front of their queues.
        for fetched in buffer { await handBack(fetched) }
        state.withLock { $0.prefetched.removeAll() }
        await wakeup.releaseAll()
        for watcher in watchers { await watcher.value }
    }

    /// One list's watcher: blocks in a content-preserving BLMOVE while the consumer waits (see `Wakeup`).
    private func watch(_ list: String, wakeup: Wakeup) async {
        var connection: RedisConnection?
        var backoff = 0.1
        while !isStopping, !Task.isCancelled {
            await wakeup.demand()
            if isStopping || Task.isCancelled { break }
            do {
                if connection == nil || connection!.isClosed { connection = try await broker.redis.dedicatedConnection() }
                let key = RedisArgument(list)
                let reply = try await connection!.send(["BLMOVE", key, key, "RIGHT", "RIGHT", RedisArgument(configuration.popTimeout)],
                                                       extraTimeout: configuration.popTimeout)
                if case .error(let message) = reply { throw RedisError.server(command: "BLMOVE", message: message) }
                if !reply.isNull { await wakeup.signal() }
                backoff = 0.1
            } catch {
                connection?.close()
                connection = nil
                if isStopping || Task.isCancelled { break }
                logger.warning("watcher(\(list)): \(error)")
                await pause(backoff)
                backoff = min(backoff * 2, 5)
            }
        }
        connection?.close()
    }

    /// Sleeps up to `seconds`, but returns within 50 ms of a shutdown request (a worker whose Redis
    /// is gone must still stop promptly on SIGTERM).
    private func pause(_ seconds: Double) async {
        let end = Date().addingTimeInterval(seconds)
        while !isStopping, Date() < end {
            try? await Task.sleep(nanoseconds: UInt64(min(0.05, max(0, end.timeIntervalSinceNow)) * 1e9))
        }
    }

    /// The queue name of a band list (`celery\u{06}\u{16}3` → `celery`).
    private func queueName(of list: String) -> String {
        // Cheaper than a substring search on every message: the consumed lists are known.
        for queue in configuration.queues where list == queue || list.hasPrefix(queue + broker.keys.bands.bands.separator) {
            return queue
        }
        return list
    }

    /// Returns a prefetched, never-started message to its queue (shutdown).
    private func handBack(_ fetched: Broker.Fetched) async {
        guard let message = try? TaskMessage.decode(fetched.raw) else {
            await deadLetter(raw: fetched.raw, error: MessageError(field: "envelope", reason: "undecodable"), queue: queueName(of: fetched.list),
                             tag: fetched.tag)
            return
        }
        do {
            try await broker.restore(message, leaseToken: leaseToken)
            if fetched.record != .untouched {
                try await broker.updateRecord(message.id, state: .pending, fields: [], incrementAttempts: false)
                _ = try? await broker.redis.send(["HINCRBY", RedisArgument(broker.keys.taskRecord(message.id)), "attempts", "-1"])
            }
        } catch {
            logger.error("could not hand back \(message.task)[\(message.id)]: \(error); its lease will")
        }
    }

    /// Decides what to do with one fetched (and held) message. Holds a slot on entry; releases it
    /// unless a task runs.
    private func start(_ fetched: Broker.Fetched) async {
        let queue = queueName(of: fetched.list)
        let raw = fetched.raw
        let message: TaskMessage
        do {
            message = try TaskMessage.decode(raw)
        } catch {
            await deadLetter(raw: raw, error: error, queue: queue, tag: fetched.tag)
            await slots.release()
            return
        }
        let now = Date()
        let label = "\(message.task)[\(message.id)]"
        let tag = message.deliveryTag
        if let expires = message.expires, expires < now {
            logger.info("Discarding revoked task: \(label)")
            await finish(message, document: .revoked(taskID: message.id, reason: "expired"), record: [("finished_at", CeleryDate.format(now))])
            await slots.release()
            return
        }
        // The fetch script already skipped revoked ids when it marked the record; only the rest need a look.
        if fetched.record == .untouched, await isRevoked(message.id) {
            logger.info("Discarding revoked task: \(label)")
            await finish(message, document: .revoked(taskID: message.id, reason: "revoked"), record: [("finished_at", CeleryDate.format(now))])
            await slots.release()
            return
        }
        guard let definition = registry[message.task] else {
            logger.error("Received unregistered task of type '\(message.task)'.\nThe message has been ignored and discarded.")
            let info = ExceptionInfo(type: "NotRegistered", message: [.string(message.task)], module: "celery.exceptions")
            await finish(message, document: .failure(taskID: message.id, exception: info, traceback: nil, parentID: message.parentID),
                         record: [("error", info.pythonRepr), ("finished_at", CeleryDate.format(now))])
            await slots.release()
            return
        }
        if let eta = message.eta, eta.timeIntervalSince(now) > 0.005 {
            do {
                try await broker.schedule(message, at: eta, releasingHold: tag)
                logger.info("Task \(label) received (eta \(CeleryDate.format(eta))): scheduled")
            } catch {
                // Still held: the lease sweep hands it back if this keeps failing.
                logger.error("Task \(label): could not schedule for its ETA: \(error)")
            }
            await slots.release()
            return
        }
        if fetched.record == .untouched { do {
            try await broker.updateRecord(message.id, state: .started,
                                          fields: [("name", message.task), ("queue", queue), ("worker", configuration.nodeName),
                                                   ("received_at", CeleryDate.format(now)), ("started_at", CeleryDate.format(now)),
                                                   ("retries", String(message.retries))],
                                          incrementAttempts: true)
        } catch {
            logger.warning("Task \(label): could not update its record: \(error)")
        } }
        logger.info("Task \(label) received")
        // A prefetched task's record says RECEIVED: the next heartbeat marks it STARTED if it is still
        // running (fast tasks go straight to their result, saving a write per task), and the final
        // record write carries the real started_at either way.
        state.withLock { $0.inFlight[tag] = InFlight(message: message, task: nil,
                                                      unmarkedStart: fetched.record == .received ? now : nil) }
        let task = Task {
            await self.execute(message, definition: definition)
            self.state.withLock {
                $0.inFlight[tag] = nil
                $0.processed += 1
            }
            await self.pendingStores.release()
        }
        state.withLock { if $0.inFlight[tag] != nil { $0.inFlight[tag]?.task = task } }
    }

    private func deadLetter(raw: [UInt8], error: any Error, queue: String, tag: String?) async {
        let messageError = error as? MessageError ?? MessageError(field: "envelope", reason: "\(error)")
        logger.error("Received malformed message on queue '\(queue)': \(messageError); moved to the dead-letter list")
        do {
            try await broker.deadLetter(raw: raw, error: messageError, queue: queue, tag: tag, worker: configuration.nodeName)
            if let id = messageError.taskID {
                // Whoever waits on this id learns why instead of waiting forever.
                let info = ExceptionInfo(type: "InvalidTaskError", message: messageError.description, module: "celery.exceptions")
                try await results.store(.failure(taskID: id, exception: info, traceback: nil),
                                        record: [("name", messageError.taskName ?? ""), ("queue", queue),
                                                 ("error", info.pythonRepr), ("dead_letter", "1"),
                                                 ("finished_at", CeleryDate.format(Date()))])
            }
        } catch {
            logger.critical("could not store a malformed message in the dead-letter list: \(error); pushing it back to '\(queue)'")
            _ = try? await broker.redis.send(["LPUSH", RedisArgument(queue), RedisArgument(raw)])
        }
    }

    /// Stores a document for a message that never ran (revoked, unregistered) and acks it.
    private func finish(_ message: TaskMessage, document: ResultDocument, record: [(String, String)]) async {
        do {
            try await results.store(document, record: [("name", message.task), ("queue", message.queue)] + record,
                                    ackTag: message.deliveryTag, leaseToken: leaseToken)
        } catch {
            logger.error("Task \(message.task)[\(message.id)]: could not store \(document.status.rawValue): \(error)")
        }
    }

    // MARK: executing

    private func execute(_ message: TaskMessage, definition: TaskDefinition) async {
        let label = "\(message.task)[\(message.id)]"
        var taskLogger = logger
        taskLogger[metadataKey: "task.id"] = .string(message.id)
        taskLogger[metadataKey: "task.name"] = .string(message.task)
        let context = TaskContext(id: message.id, name: message.task, retries: message.retries, queue: message.queue,
                                  hostname: configuration.nodeName, logger: taskLogger)
        let arguments = TaskArguments(args: message.args, kwargs: message.kwargs, parameters: definition.parameters,
                                      taskName: message.task)
        let clock = ContinuousClock()
        let started = clock.now
        let limits = message.timeLimits
        let outcome = await runWithLimits(soft: limits.soft ?? definition.options.softTimeLimit,
                                          hard: limits.hard ?? definition.options.timeLimit, tag: message.deliveryTag) {
            try arguments.validate()
            return try await definition.handler(arguments, context)
        }
        // The handler is done: its slot goes to the next task while the result is written. The message
        // stays held (and leased) until the result and the ack are in Redis, so nothing is lost; the
        // number of results being written at once is bounded by `pendingStores`.
        await pendingStores.acquire()
        await slots.release()
        if state.withLock({ $0.handedBack.contains(message.deliveryTag) }) {
            logger.info("Task \(label) was handed back at shutdown; its outcome is not stored")
            return
        }
        let runtime = clock.now - started
        let seconds = Double(runtime.components.seconds) + Double(runtime.components.attoseconds) / 1e18
        let finished = CeleryDate.format(Date())
        let startedField = ("started_at", CeleryDate.format(Date(timeIntervalSinceNow: -seconds)))
        switch outcome {
        case .success(let value):
            // Chains and link callbacks go out before the ack: a crash in between re-runs this task
            // (at least once) rather than losing the rest of the chain.
            do {
                for next in try Canvas.followUps(of: message, result: value) { try await broker.enqueue(next) }
            } catch {
                logger.error("Task \(label): could not send its chain/callbacks: \(error)")
            }
            let document = message.ignoreResult ? nil : ResultDocument.success(taskID: message.id, result: value, parentID: message.parentID)
            await store(document ?? .success(taskID: message.id, result: .null), message: message, writeDocument: document != nil,
                        record: [("finished_at", finished), ("runtime", String(seconds)), startedField])
            logger.info("Task \(label) succeeded in \(seconds)s: \(PythonRepr.repr(value))")
        case .failure(let retry as Retry):
            await retryLater(message, retry: retry, label: label)
        case .failure(let error) where definition.options.retry?.retryOn(error) == true
            && !(error is CancellationError) && ExceptionInfo.from(error).module != "celery.exceptions":
            let policy = definition.options.retry!
            await retryLater(message, retry: Retry(after: policy.delay(afterRetries: message.retries), reason: error,
                                                   maxRetries: policy.maxRetries), label: label)
        case .failure(let error):
            let info = ExceptionInfo.from(error)
            let traceback = info.traceback(task: message.task, id: message.id, worker: configuration.nodeName)
            await store(.failure(taskID: message.id, exception: info, traceback: traceback, parentID: message.parentID),
                        message: message, writeDocument: true,
                        record: [("finished_at", finished), ("runtime", String(seconds)), ("error", info.pythonRepr), startedField])
            logger.error("Task \(label) raised unexpected: \(info.pythonRepr)")
        }
    }

    /// Runs `body` with Celery's time limits: at `soft` seconds its Swift task is cancelled (a handler
    /// that stops then fails with `SoftTimeLimitExceeded`); at `hard` seconds the worker stops waiting
    /// and frees the slot (`TimeLimitExceeded`) even if the handler ignores cancellation.
    private func runWithLimits(soft: Double?, hard: Double?, tag: String,
                               _ body: @escaping @Sendable () async throws -> JSONValue) async -> Result<JSONValue, any Error> {
        let handler = Task { try await body() }
        state.withLock { if $0.inFlight[tag] != nil { $0.inFlight[tag]?.handler = handler } }
        guard soft != nil || hard != nil else { return await handler.result }
        let softFired = Locked(false)
        let softTimer = soft.map { seconds in
            Task {
                try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                softFired.withLock { $0 = true }
                handler.cancel()
            }
        }
        defer { softTimer?.cancel() }
        let first = Locked<CheckedContinuation<Result<JSONValue, any Error>, Never>?>(nil)
        let result: Result<JSONValue, any Error> = await withCheckedContinuation { continuation in
            first.withLock { $0 = continuation }
            Task {
                let r = await handler.result
                first.withLock { $0.take() }?.resume(returning: r)
            }
            if let hard {
                Task {
                    try? await Task.sleep(nanoseconds: UInt64(hard * 1e9))
                    handler.cancel()
                    first.withLock { $0.take() }?.resume(returning: .failure(
                        ExceptionInfo(type: "TimeLimitExceeded", message: [.double(hard)], module: "celery.exceptions")))
                }
            }
        }
        if case .failure = result, softFired.withLock({ $0 }) {
            if case .failure(let e as ExceptionInfo) = result, e.type == "TimeLimitExceeded" { return result }
            return .failure(ExceptionInfo(type: "SoftTimeLimitExceeded", message: "SoftTimeLimitExceeded()", module: "celery.exceptions"))
        }
        return result
    }

    private func store(_ document: ResultDocument, message: TaskMessage, writeDocument: Bool, record: [(String, String)]) async {
        var delay = 0.1
        while true {
            do {
                if writeDocument {
                    let outcome = try await results.store(document, record: record, ackTag: message.deliveryTag, leaseToken: leaseToken)
                    if outcome == .revoked {
                        logger.info("Task \(message.task)[\(message.id)] was revoked; its \(document.status.rawValue) is not stored")
                    } else if outcome == .leaseLost {
                        logger.warning("Task \(message.task)[\(message.id)]: its lease passed to another worker; this attempt's \(document.status.rawValue) is discarded")
                    }
                } else {
                    try await broker.updateRecord(message.id, state: document.status, fields: record)
                    try await broker.ack(tag: message.deliveryTag)
                }
                return
            } catch let error as RedisError where error.isConnectivity && !isStopping {
                // The result exists only in memory: keep trying while Redis is away.
                logger.warning("Task \(message.task)[\(message.id)]: storing the result failed (\(error)); retrying")
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                delay = min(delay * 2, 2)
            } catch {
                logger.error("Task \(message.task)[\(message.id)]: could not store its result: \(error)")
                return
            }
        }
    }

    private func retryLater(_ message: TaskMessage, retry: Retry, label: String) async {
        let limit = retry.maxRetries ?? configuration.defaultMaxRetries
        if message.retries >= limit {
            let traceback = retry.reason.traceback(task: message.task, id: message.id, worker: configuration.nodeName)
            await store(.failure(taskID: message.id, exception: retry.reason, traceback: traceback, parentID: message.parentID),
                        message: message, writeDocument: true,
                        record: [("finished_at", CeleryDate.format(Date())), ("error", retry.reason.pythonRepr)])
            logger.error("Task \(label) raised unexpected: \(retry.reason.pythonRepr) (max retries \(limit) exceeded)")
            return
        }
        let due = Date().addingTimeInterval(max(0, retry.after))
        var options = TaskMessage.Options()
        options.queue = message.queue
        options.eta = due
        options.expires = message.expires
        options.priority = message.priority
        options.retries = message.retries + 1
        options.parentID = message.id
        options.rootID = message.rootID
        options.origin = configuration.nodeName
        let next = TaskMessage.make(task: message.task, id: message.id, args: message.args, kwargs: message.kwargs, options: options)
        do {
            try await broker.schedule(next, at: due)
            let traceback = retry.reason.traceback(task: message.task, id: message.id, worker: configuration.nodeName)
            try await results.store(.retry(taskID: message.id, exception: retry.reason, traceback: traceback, parentID: message.parentID),
                                    record: [("retries", String(message.retries + 1))], ackTag: message.deliveryTag,
                                    leaseToken: leaseToken)
            logger.info("Task \(label) retry: Retry in \(retry.after)s: \(retry.reason.pythonRepr)")
        } catch {
            logger.error("Task \(label): could not schedule its retry: \(error)")
        }
    }

    // MARK: shutdown

    private func drain() async {
        let deadline = Date().addingTimeInterval(configuration.shutdownGrace)
        while active > 0, Date() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let leftovers = state.withLock { s -> [InFlight] in
            defer { s.inFlight.removeAll() }
            s.handedBack.formUnion(s.inFlight.keys)
            return Array(s.inFlight.values)
        }
        guard !leftovers.isEmpty else { return }
        logger.warning("Restoring \(leftovers.count) unacknowledged message(s)")
        for item in leftovers {
            do { try await broker.restore(item.message, leaseToken: leaseToken) } catch {
                logger.error("could not restore \(item.message.task)[\(item.message.id)]: \(error); the visibility sweep will")
            }
            item.cancel()
        }
    }
}
