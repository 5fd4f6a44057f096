import Foundation
import TaskProtocol
import TaskQueue

/// Long polling for `GET /tasks/{id}?wait=`: one subscriber connection per API process, subscribed to
/// `celery-task-meta-<id>` (where Celery's result backend — our workers and Python's — publishes each
/// result) only while somebody waits for that id.
actor ResultWaiter {
    private final class Waiter {
        var continuation: CheckedContinuation<Void, Never>?
        var fired = false
    }

    private let broker: Broker
    private var connection: Broker.Subscriber?
    private var connecting: Task<Broker.Subscriber, any Error>?
    private var waiters: [String: [Int: Waiter]] = [:]
    /// Per channel, the SUBSCRIBE every waiter on it waits for before looking at the result.
    private var subscriptions: [String: Task<Void, any Error>] = [:]
    /// Per channel, an UNSUBSCRIBE in flight, which a new SUBSCRIBE must follow on the wire.
    private var unsubscribing: [String: (token: Int, task: Task<Void, Never>)] = [:]
    private var nextToken = 0
    /// After `close()`: waits return at once (shutdown).
    private(set) var isClosed = false

    init(broker: Broker) {
        self.broker = broker
    }

    /// Releases every waiter and makes later waits return at once (the API is shutting down).
    func close() {
        isClosed = true
        for channel in Array(waiters.keys) { fireAll(channel) }
        connection?.close()
    }

    /// Returns once a result is published for `id`, `timeout` seconds have passed, the calling task is
    /// cancelled, or `isReady` (asked once the subscription is in place, so nothing slips between)
    /// says it already is. Throws only when Redis cannot be reached to subscribe.
    func wait(for id: String, timeout: Double, isReady: @Sendable () async throws -> Bool) async throws {
        if isClosed { return }
        let channel = KeySpace.resultKey(id)
        let token = nextToken
        nextToken += 1
        let waiter = Waiter()
        waiters[channel, default: [:]][token] = waiter
        defer { leave(channel, token) }
        let previous = subscriptions[channel] == nil ? unsubscribing.removeValue(forKey: channel)?.task : nil
        let subscription = subscriptions[channel] ?? Task {
            await previous?.value
            try await self.subscribe(channel)
        }
        subscriptions[channel] = subscription
        do { try await subscription.value } catch {
            if subscriptions[channel] == subscription { subscriptions[channel] = nil }
            throw error
        }
        if try await isReady() { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(max(0, timeout)))
            await self?.fire(channel, token: token)
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if waiter.fired { continuation.resume() } else { waiter.continuation = continuation }
            }
        } onCancel: {
            Task { await self.fire(channel, token: token) }
        }
    }

    private func subscribe(_ channel: String) async throws {
        try await liveConnection().subscribe([channel]) { channel, _ in
            Task { await self.fireAll(channel) }
        }
    }

    private func liveConnection() async throws -> Broker.Subscriber {
        if let connection, !connection.isClosed { return connection }
        if let connecting { return try await connecting.value }
        if let connection { lost(connection) }
        let task = Task { try await broker.subscriber() }
        connecting = task
        defer { connecting = nil }
        let fresh = try await task.value
        connection = fresh
        Task { await self.watch(fresh) }
        return fresh
    }

    /// Notices when the subscriber connection dies (a PING now and then finds a dead peer): its waiters
    /// look again, and wait again on a new connection.
    private func watch(_ watched: Broker.Subscriber) async {
        await watched.waitUntilClosed()
        lost(watched)
    }

    private func lost(_ dead: Broker.Subscriber) {
        guard connection === dead else { return }
        connection = nil
        subscriptions.removeAll()
        unsubscribing.removeAll()
        for channel in Array(waiters.keys) { fireAll(channel) }
    }

    private func leave(_ channel: String, _ token: Int) {
        waiters[channel]?[token] = nil
        guard waiters[channel]?.isEmpty == true else { return }
        waiters[channel] = nil
        subscriptions[channel] = nil
        if let connection, !connection.isClosed {
            unsubscribing[channel] = (token, Task {
                await connection.unsubscribe(channel)
                self.unsubscribed(channel, token: token)
            })
        }
    }

    private func unsubscribed(_ channel: String, token: Int) {
        if unsubscribing[channel]?.token == token { unsubscribing[channel] = nil }
    }

    private func fire(_ channel: String, token: Int) {
        guard let waiter = waiters[channel]?[token] else { return }
        waiter.fired = true
        waiter.continuation?.resume()
        waiter.continuation = nil
    }

    private func fireAll(_ channel: String) {
        for token in Array((waiters[channel] ?? [:]).keys) { fire(channel, token: token) }
    }

    /// Ids being waited for now (tests, metrics).
    var waiting: Int { waiters.values.reduce(0) { $0 + $1.count } }
}
