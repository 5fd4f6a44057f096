import DequeModule
import Foundation
import Logging
import ServiceLifecycle
import TaskProtocol
import TaskQueue

/// A worker node: fetches Celery messages from Redis atomically (pop + hold + lease), runs up to `concurrency` of
/// them at once, writes Celery result documents, and shuts down warm on request.
///
/// ```swift
/// let worker = Worker(configuration: config, registry: registry, broker: broker, results: results, logger: logger)
/// try await worker.run()          // returns after requestShutdown() and the warm shutdown
/// ```
public final class Worker: Service, Sendable {
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
    /// Monitoring events (Flower, `celery events`).
    let events: EventDispatcher
    /// The queue of each consumed list (a queue's priority bands are lists of their own).
    let queueByList: [String: String]
    let state: Protected<State>
    /// Writes plain completions that finish close together in one script call (see `store`).
    let completions: CompletionBatcher
    /// When this worker was created (`stats`' uptime, as Celery's).
    let startedAt = Date()
    let metrics = WorkerMetrics()

    struct State {
        var stopping = false
        var inFlight: [String: InFlight] = [:]
        var processed = 0
        /// Global rate limits set in Redis (HTTP, Celery's `rate_limit`), refreshed each heartbeat.
        var rateLimits: [String: RateLimit] = [:]
        /// Tasks started, by name (Celery's `stats` `total`).
        var totals: [String: Int] = [:]
        /// The consumer's wakeup and its watchers' blocked connections, which shutdown interrupts.
        var wakeup: Wakeup?
        var watcherConnections: [String: Broker.ListWatcher] = [:]
        /// Tags handed back at shutdown: their handlers' late outcomes must not be stored.
        var handedBack: Set<String> = []
        /// Held (leased) messages waiting in the consumer's prefetch buffer.
        var prefetched: [String: Broker.Fetched] = [:]
        /// Prefetched messages the heartbeat found revoked: discarded when their turn comes.
        var revokedTags: Set<String> = []
        var shutdownRequested: Date?
        /// Cold shutdown: hand back running tasks without waiting for the grace period.
        var cold = false
    }

    struct InFlight {
        var message: TaskMessage
        var task: Task<Void, Never>?
        /// The handler's own task, which revoke and shutdown cancel: only under a time limit (without
        /// one the handler runs in `task`, cancelled the same way).
        var handler: Task<JSONValue, any Error>?
        /// A prefetched task's start time, until the heartbeat has written STARTED for it.
        var unmarkedStart: Date?
        /// Set when a revoke or a cold shutdown cancelled it, so a handler whose task starts after that
        /// is cancelled as it starts (a Task does not inherit cancellation from the one that made it).
        var cancelled = false

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
        self.queueByList = Dictionary(configuration.queues.flatMap { queue in broker.consumeLists(queues: [queue]).map { ($0, queue) } },
                                      uniquingKeysWith: { first, _ in first })
        self.events = EventDispatcher(broker: broker, hostname: configuration.nodeName,
                                      sendsTaskEvents: configuration.sendTaskEvents)
        let state = Protected(State())
        self.state = state
        self.completions = CompletionBatcher { batch in
            await retryingThroughOutages("storing \(batch.count) result(s)", logger: logger,
                                         isStopping: { state.withLock { $0.stopping } }) {
                try await results.store(batch: batch)
            }
        }
    }

    /// Number of tasks finished since start (for heartbeats and tests).
    public var processed: Int { state.withLock { $0.processed } }
    /// Number of tasks running now.
    public var active: Int { state.withLock { $0.inFlight.count } }
    public var isStopping: Bool { state.withLock { $0.stopping } }
    /// Prefetched messages known to be revoked, waiting to be discarded when their turn comes.
    public var revokedWaiting: Int { state.withLock { $0.revokedTags.count } }

    /// Asks for a warm shutdown: stop taking work, let in-flight tasks finish within the grace period.
    public func requestShutdown() {
        let first = state.withLock { s -> Bool in
            defer { s.stopping = true; s.shutdownRequested = s.shutdownRequested ?? Date() }
            return !s.stopping
        }
        guard first else { return }
        // A consumer waiting for a free slot or for work, and watchers blocked in BLMOVE, must
        // notice at once, not when a long task ends or their poll times out.
        let (wakeup, connections) = state.withLock { ($0.wakeup, Array($0.watcherConnections.values)) }
        for connection in connections { connection.close(reason: "worker shutting down") }
        slots.release()
        wakeup?.releaseAll()
    }

    /// Consumes until shutdown is requested, then finishes or hands back in-flight tasks and returns.
    ///
    /// As a swift-service-lifecycle `Service`, a graceful shutdown of its `ServiceGroup` is a warm
    /// shutdown (`requestShutdown`), and cancellation a cold one: unfinished tasks go back to their
    /// queues at once, without waiting out the grace period.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await events.worker("worker-online", fields: workerEventFields())
                let background = Task { await self.backgroundLoops() }
                defer { background.cancel() }
                await consume()
                await drain()
                background.cancel()
                await events.flush()
                await events.worker("worker-offline", fields: workerEventFields())
                await deregister()
                logger.info("worker: Warm shutdown (MainProcess)")
            } onCancel: {
                self.requestColdShutdown()
            }
        } onGracefulShutdown: {
            self.requestShutdown()
        }
    }

    /// Stops now: like `requestShutdown`, but running tasks are cancelled and handed back at once.
    public func requestColdShutdown() {
        state.withLock { $0.cold = true }
        requestShutdown()
    }

    // MARK: shutdown

    func drain() async {
        // The grace period counts from the shutdown request, not from when consuming stopped.
        let requested = state.withLock { $0.shutdownRequested } ?? Date()
        let deadline = requested.addingTimeInterval(configuration.shutdownGrace)
        while active > 0, Date() < deadline, !state.withLock({ $0.cold }) {
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
