import Foundation
import TaskProtocol
import TaskQueue

extension Worker {
    /// Heartbeat, scheduled promotion and the visibility sweep, until cancelled.
    func backgroundLoops() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.every(self.configuration.heartbeatInterval) { try await self.heartbeat() } }
            group.addTask { await self.promoteLoop() }
            group.addTask { await self.every(self.configuration.sweepInterval) { try await self.sweep() } }
            group.addTask { await self.listenForRevokes() }
            // Task events can be switched on later (remote control's enable_events, as Flower does):
            // the flusher sleeps until one is queued.
            group.addTask { await self.events.flushWhenQueued() }
        }
    }

    /// The fields of Celery's worker-online/heartbeat/offline events.
    func workerEventFields() -> JSONObject {
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        return ["freq": .double(configuration.heartbeatInterval), "active": .int(Int64(active)),
                "processed": .int(Int64(processed)),
                "loadavg": .array(load.map { .double(($0 * 100).rounded() / 100) }),
                "sw_ident": "celeriac", "sw_ver": .string(configuration.softwareVersion), "sw_sys": "Linux"]
    }

    /// Revocations as they happen: the revoke script publishes each id, and this worker cancels the
    /// task if it runs it, or marks it if it waits in the prefetch buffer — at once, not at the next
    /// heartbeat. The heartbeat still checks, for whatever a lost subscription missed. Listens until
    /// the background loops end (after the shutdown grace period, so revokes still land during it).
    private func listenForRevokes() async {
        var backoff = 0.1
        while !Task.isCancelled {
            do {
                let connection = try await broker.subscriber()
                defer { connection.close() }
                // The same connection carries Celery's remote control (`celery inspect`, Flower, Python's revoke).
                let control = CeleryControl.channel(database: broker.database)
                try await connection.subscribe([broker.keys.revokeChannel, control]) { [self] channel, payload in
                    if channel == control { remoteControl(payload) } else { revokedNow(String(decoding: payload, as: UTF8.self)) }
                }
                backoff = 0.1
                await connection.waitUntilClosed()
                if !Task.isCancelled { logger.warning("revoke listener: connection lost; reconnecting") }
            } catch {
                if Task.isCancelled { break }
                logger.warning("revoke listener: \(error); retrying in \(String(format: "%.1f", backoff))s")
                try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }

    /// A revocation heard on the channel (reader thread): cancel it if running, mark it if prefetched.
    func revokedNow(_ id: String) {
        let running: [InFlight] = state.withLock { s in
            for (tag, fetched) in s.prefetched where fetched.taskID == id { s.revokedTags.insert(tag) }
            for (tag, item) in s.inFlight where item.message.id == id { s.inFlight[tag]?.cancelled = true }
            return s.inFlight.values.filter { $0.message.id == id }
        }
        for item in running {
            logger.info("Terminating revoked task \(item.message.task)[\(item.message.id)]")
            item.cancel()
        }
    }

    private func every(_ interval: Double, _ body: @Sendable () async throws -> Void) async {
        while !Task.isCancelled {
            do { try await body() } catch {
                if !Task.isCancelled { logger.warning("background: \(error)") }
            }
            try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(interval))
        }
    }

    /// Registers this node and its task names (the API checks submitted names against them) and
    /// renews the hold on the messages it is running.
    func heartbeat() async throws {
        let now = Date()
        let ttl = Int((configuration.heartbeatInterval * 5).rounded(.up))
        try await broker.heartbeat(node: configuration.nodeName, info: Broker.WorkerInfo(
            tasks: registry.names, queues: configuration.queues, concurrency: configuration.concurrency,
            pid: Int(getpid()), active: active, processed: processed), ttl: ttl, now: now)
        let (running, prefetched) = state.withLock { ($0.inFlight, Array($0.prefetched.keys)) }
        try await broker.renew(tags: Array(running.keys) + prefetched, now: now)
        await events.worker("worker-heartbeat", fields: workerEventFields())
        // Prefetched tasks that have been running since the last heartbeat: mark them STARTED now.
        var marks: [(id: String, at: Date)] = []
        for (tag, item) in running {
            guard let started = item.unmarkedStart else { continue }
            marks.append((item.message.id, started))
            state.withLock { $0.inFlight[tag]?.unmarkedStart = nil }
        }
        try await broker.markStarted(marks)
        let limits = try await broker.rateLimits()
        state.withLock { $0.rateLimits = limits }
        // Revoked while waiting in the prefetch buffer: discarded when its turn comes.
        let waiting = state.withLock { s in s.prefetched.compactMap { tag, fetched in fetched.taskID.map { (tag, $0) } } }
        // One look at the revoked set for both the waiting and the running.
        let revoked = try await broker.revokedAmong(waiting.map(\.1) + running.values.map(\.message.id))
        if waiting.contains(where: { revoked.contains($0.1) }) {
            state.withLock { s in for (tag, id) in waiting where revoked.contains(id) { s.revokedTags.insert(tag) } }
        }
        // Revoked while running: cancel (cooperatively) the handler; its outcome is not stored.
        state.withLock { s in for (tag, item) in s.inFlight where revoked.contains(item.message.id) { s.inFlight[tag]?.cancelled = true } }
        for item in running.values where revoked.contains(item.message.id) {
            logger.info("Terminating revoked task \(item.message.task)[\(item.message.id)]")
            item.cancel()
        }
    }

    /// Moves due ETA/retry messages to their queues. Sleeps until the earliest due time in Redis, at
    /// most `scheduleInterval` (a message another process scheduled is seen within that), and wakes
    /// early when this process schedules something (`Broker.scheduleNotices`).
    private func promoteLoop() async {
        let alarm = Alarm()
        // A notice can come just before its write lands (a retry's is sent with its result): it asks
        // for a look at its due time and another 100 ms later.
        let hints = Protected<[(at: Date, again: Bool)]>([])
        let listener = broker.scheduleNotices.listen { due in
            hints.withLock { $0.append((max(due, Date()), true)) }
            alarm.ring()
        }
        defer { broker.scheduleNotices.stopListening(listener) }
        while !Task.isCancelled {
            let now = Date()
            var wakeAt = now.addingTimeInterval(configuration.scheduleInterval)
            do {
                let promoted = try await broker.promoteDue(now: now)
                if promoted >= 500 { continue }  // a full batch: more may be due
                if let next = try await broker.nextScheduled() { wakeAt = min(wakeAt, next) }
            } catch {
                if !Task.isCancelled { logger.warning("scheduler: \(error)") }
            }
            let soonest = hints.withLock { hints -> Date? in
                hints = hints.flatMap { hint in
                    hint.at > now ? [hint] : hint.again ? [(now.addingTimeInterval(0.1), false)] : []
                }
                return hints.map(\.at).min()
            }
            if let soonest { wakeAt = min(wakeAt, soonest) }
            await alarm.sleep(upTo: max(0.001, wakeAt.timeIntervalSinceNow))
        }
    }

    private func sweep() async throws {
        let restored = try await broker.restoreStale(lease: configuration.leaseTimeout, visibilityTimeout: configuration.visibilityTimeout,
                                                     maxCrashes: configuration.maxCrashes)
        if restored > 0 {
            logger.warning("Restoring \(restored) unacknowledged message(s)")
            metrics.redeliveries.increment(by: restored)
        }
        try await broker.pruneRevoked()
    }

    /// True when the id was revoked (`DELETE /tasks/{id}`, `celeriac revoke`).
    func isRevoked(_ id: String) async -> Bool {
        (try? await broker.revokedAmong([id]))?.isEmpty == false
    }

    func deregister() async {
        try? await broker.deregister(node: configuration.nodeName)
    }
}
