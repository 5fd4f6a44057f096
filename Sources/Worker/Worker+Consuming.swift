import DequeModule
import Foundation
import Logging
import TaskProtocol
import TaskQueue

extension Worker {
    // MARK: consuming

    func consume() async {
        let lists = broker.consumeLists(queues: configuration.queues)
        let wakeup = Wakeup()
        state.withLock { $0.wakeup = wakeup }
        if isStopping { wakeup.releaseAll() }
        let watchers = lists.map { list in Task { await self.watch(list, first: list == lists.first, wakeup: wakeup) } }
        let timeouts = Task { await wakeup.runTimeouts() }
        defer {
            watchers.forEach { $0.cancel() }
            timeouts.cancel()
        }
        var backoff = 0.1
        var buffer = Deque<Broker.Fetched>()
        // What the last fetch saw behind the messages it took (or a watcher saw): where the next one starts.
        var tails: Broker.Tails?
        // The last fetch saw nothing behind the messages it took: the next one would read empty lists
        // (a round trip per task on a quiet worker), so it waits for a watcher first, which sees a
        // message that came meanwhile at once. (A fetch that read no tails leaves it unset: see `fetch`.)
        var drained = false
        // Where the watchers' and the fetches' replies arrive (a worker's Redis sockets share one loop);
        // nil while Redis is unreachable: the consumer stays on the pool until it is known.
        var loop = await broker.executor()
        /// One turn: a free slot is filled from the prefetch buffer or a fetch. False once stopping.
        func turn() async -> Bool {
            await slots.acquire()
            if isStopping { slots.release(); return false }
            if let next = buffer.popFirst() {
                // Prefetched and already held: no round trip between a free slot and its next task.
                state.withLock { $0.prefetched[next.tag ?? ""] = nil }
                await start(next)
                return true
            }
            // Every slot free right now is filled from one fetch, plus Celery-style prefetch.
            let slotsHeld = 1 + (slots.tryAcquire(upTo: configuration.concurrency))
            let prefetch = max(0, configuration.concurrency * (configuration.prefetchMultiplier - 1))
            var batch: [Broker.Fetched] = []
            while !isStopping {
                if drained, tails == nil {
                    drained = false
                    tails = await wakeup.wait(timeout: configuration.popTimeout).map(Broker.Tails.init(firstList:))
                    continue  // a shutdown ends the wait too: look before fetching
                }
                do {
                    (batch, tails) = try await broker.fetch(lists: lists, leaseToken: leaseToken, count: slotsHeld + prefetch,
                                                            startNow: slotsHeld, worker: configuration.nodeName, tails: tails)
                    backoff = 0.1
                } catch {
                    tails = nil
                    logger.error("consumer: \(error); retrying in \(String(format: "%.1f", backoff))s")
                    await pause(backoff)
                    backoff = min(backoff * 2, 5)
                    continue
                }
                drained = tails == nil
                if !batch.isEmpty { break }
                tails = await wakeup.wait(timeout: configuration.popTimeout).map(Broker.Tails.init(firstList:))
            }
            let now = min(batch.count, slotsHeld)
            slots.release(slotsHeld - now)
            for fetched in batch[now...] {
                buffer.append(fetched)
                if let tag = fetched.tag { state.withLock { $0.prefetched[tag] = fetched } }
            }
            for fetched in batch[..<now] { await start(fetched) }
            return true
        }
        while !isStopping {
            // Idle (the next fetch waits for a watcher): turns run on the event loop where the watchers'
            // and the fetch's replies arrive, for as long as the worker stays idle, so a wake-up goes on
            // to its fetch and its task's start with no hop to the pool and back (the handler itself runs
            // on the pool: `start`). A backlog is fetched and started on the pool, as the loop's I/O must
            // not wait on it.
            if drained, tails == nil, buffer.isEmpty {
                if loop == nil { loop = await broker.executor() }
                if let loop {
                    await withTaskExecutorPreference(loop) {
                        while await turn(), drained, tails == nil, buffer.isEmpty {}
                    }
                    continue
                }
            }
            if await !turn() { break }
        }
        // Prefetched messages that never started go back to the front of their queues.
        for fetched in buffer { await handBack(fetched) }
        state.withLock { $0.prefetched.removeAll() }
        wakeup.releaseAll()
        for watcher in watchers { await watcher.value }
    }

    /// One list's watcher: blocks in a content-preserving BLMOVE while the consumer waits (see `Wakeup`).
    /// The first list's watcher hands the consumer the message it saw, which the fetch takes first.
    /// While its connection lives, the watcher runs on that connection's event loop, where the
    /// BLMOVE's reply arrives: the reply reaches `Wakeup` and the consumer with no thread hop between.
    func watch(_ list: String, first: Bool, wakeup: Wakeup) async {
        var backoff = 0.1
        while !isStopping, !Task.isCancelled {
            await wakeup.demand()
            if isStopping || Task.isCancelled { break }
            let connection: Broker.ListWatcher
            do {
                connection = try await broker.listWatcher()
            } catch {
                if isStopping || Task.isCancelled { break }
                logger.warning("watcher(\(list)): \(error)")
                await pause(backoff)
                backoff = min(backoff * 2, 5)
                continue
            }
            // Registered before the stop check, so shutdown either sees and closes it or is seen here.
            state.withLock { $0.watcherConnections[list] = connection }
            if isStopping {
                connection.close()
                break
            }
            let failed = await withTaskExecutorPreference(connection.executor) {
                await watch(list, on: connection, first: first, wakeup: wakeup, backoff: &backoff)
            }
            connection.close()
            state.withLock { $0.watcherConnections[list] = nil }
            if let failed, !isStopping, !Task.isCancelled {
                logger.warning("watcher(\(list)): \(failed)")
                await pause(backoff)
                backoff = min(backoff * 2, 5)
            }
        }
    }

    /// Watches `list` on one connection until it fails (returning the error) or the worker stops (nil).
    private func watch(_ list: String, on connection: Broker.ListWatcher, first: Bool, wakeup: Wakeup,
                       backoff: inout Double) async -> (any Error)? {
        while !isStopping, !Task.isCancelled {
            await wakeup.demand()
            if isStopping || Task.isCancelled { break }
            do {
                if let seen = try await connection.waitForTail(on: list, timeout: configuration.watchTimeout) {
                    // The first list's tail is the next message a fetch takes: the consumer takes it
                    // without reading the lists again. Other lists only wake it.
                    wakeup.signal(tail: first ? seen : nil)
                }
                backoff = 0.1
            } catch {
                return error
            }
        }
        return nil
    }

    /// Sleeps up to `seconds`, but returns within 50 ms of a shutdown request (a worker whose Redis
    /// is gone must still stop promptly on SIGTERM).
    func pause(_ seconds: Double) async {
        let end = Date().addingTimeInterval(seconds)
        while !isStopping, Date() < end {
            try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(min(0.05, max(0, end.timeIntervalSinceNow))))
        }
    }

    /// The queue name of a band list (`celery\u{06}\u{16}3` → `celery`).
    func queueName(of list: String) -> String { queueByList[list] ?? list }

    /// Returns a prefetched, never-started message to its queue (shutdown).
    func handBack(_ fetched: Broker.Fetched) async {
        guard let message = try? TaskMessage.decode(fetched.raw) else {
            await deadLetter(raw: fetched.raw, error: MessageError(field: "envelope", reason: "undecodable"), queue: queueName(of: fetched.list),
                             tag: fetched.tag)
            return
        }
        do {
            // Never started: if its record counted this attempt, it is taken back.
            try await broker.restore(message, leaseToken: leaseToken, neverStarted: fetched.record != .untouched)
        } catch {
            logger.error("could not hand back \(message.task)[\(message.id)]: \(error); its lease will")
        }
    }

    /// Decides what to do with one fetched (and held) message. Holds a slot on entry; releases it
    /// unless a task runs.
    func start(_ fetched: Broker.Fetched) async {
        let queue = queueName(of: fetched.list)
        let raw = fetched.raw
        let message: TaskMessage
        do {
            message = try fetched.message ?? TaskMessage.decode(raw)  // the fetch decoded it when it could
        } catch {
            await deadLetter(raw: raw, error: error, queue: queue, tag: fetched.tag)
            slots.release()
            return
        }
        let now = Date()
        // Built only when a log line at an enabled level asks for it.
        var label: String { "\(message.task)[\(message.id)]" }
        let tag = message.deliveryTag
        let registered = registry[message.task]
        let plan = ExecutionPlan(message: message, now: now, defaultSoft: registered?.options.softTimeLimit,
                                 defaultHard: registered?.options.timeLimit)
        if plan.start == .expired {
            events.task("task-revoked", ["uuid": .string(message.id), "terminated": false, "signum": nil, "expired": true])
            logger.info("Discarding revoked task: \(label)")
            metrics.task(message.task, .revoked)
            await finish(message, document: .revoked(taskID: message.id, reason: "expired"), record: .discarded(message, at: now))
            slots.release()
            return
        }
        // The fetch script already skipped revoked ids when it marked the record; only the rest need a look.
        var revoked = state.withLock { $0.revokedTags.remove(tag) != nil }
        if !revoked, fetched.record == .untouched { revoked = await isRevoked(message.id) }
        if revoked {
            events.task("task-revoked", ["uuid": .string(message.id), "terminated": false, "signum": nil, "expired": false])
            logger.info("Discarding revoked task: \(label)")
            metrics.task(message.task, .revoked)
            await finish(message, document: .revoked(taskID: message.id, reason: "revoked"), record: .discarded(message, at: now))
            slots.release()
            return
        }
        guard let definition = registered else {
            logger.error("Received unregistered task of type '\(message.task)'.\nThe message has been ignored and discarded.")
            // Celery's consumer (on_unknown_task) sends this one event and no task-received: Flower shows FAILURE.
            events.task("task-failed", ["uuid": .string(message.id),
                                        "exception": .string("NotRegistered(\(PythonRepr.repr(.string(message.task))))")])
            metrics.task(message.task, .rejected)
            let info = ExceptionInfo(type: "NotRegistered", message: [.string(message.task)], module: "celery.exceptions")
            await finish(message, document: .failure(taskID: message.id, exception: info, traceback: nil, parentID: message.parentID),
                         record: .discarded(message, at: now, error: info.pythonRepr))
            slots.release()
            return
        }
        // Like Celery's strategy: revoked, expired and unregistered messages never announce a task-received.
        events.task("task-received", [
            "uuid": .string(message.id), "name": .string(message.task),
            "args": message.headers["argsrepr"] ?? .string(PythonRepr.tuple(message.args)),
            "kwargs": message.headers["kwargsrepr"] ?? .string(PythonRepr.dict(message.kwargs)),
            "root_id": message.headers["root_id"] ?? .null, "parent_id": message.headers["parent_id"] ?? .null,
            "retries": .int(Int64(message.retries)), "eta": message.headers["eta"] ?? .null,
            "expires": message.headers["expires"] ?? .null,
        ])
        if case .at(let eta) = plan.start {
            do {
                if try await broker.schedule(message, at: eta, releasingHold: tag, leaseToken: leaseToken) {
                    logger.info("Task \(label) received (eta \(CeleryDate.format(eta))): scheduled")
                } else {
                    logger.warning("Task \(label): its lease passed to another worker; not scheduled here")
                }
            } catch {
                // Still held: the lease sweep hands it back if this keeps failing.
                logger.error("Task \(label): could not schedule for its ETA: \(error)")
            }
            slots.release()
            return
        }
        // Due now: a global rate limit may still make it wait (in Redis).
        if await throttled(message, definition: definition, tag: tag, label: label, now: now) {
            slots.release()
            return
        }
        if fetched.record == .untouched { do {
            try await broker.recordReceived(message, queue: queue, worker: configuration.nodeName, at: now)
        } catch {
            logger.warning("Task \(label): could not update its record: \(error)")
        } }
        logger.info("Task \(label) received")
        metrics.started(message, queue: queue, at: now)
        events.task("task-started", ["uuid": .string(message.id)])
        // A prefetched task's record says RECEIVED: the next heartbeat marks it STARTED if it is still
        // running (fast tasks go straight to their result, saving a write per task), and the final
        // record write carries the real started_at either way.
        state.withLock {
            $0.inFlight[tag] = InFlight(message: message, task: nil, unmarkedStart: fetched.record == .received ? now : nil)
            $0.totals[message.task, default: 0] += 1  // Celery counts a task when it is accepted
        }
        // On the pool, also when an idle consumer starts it from the event loop (a handler may block).
        let task = Task(executorPreference: globalConcurrentExecutor) {
            await self.execute(message, definition: definition, plan: plan)
            self.state.withLock {
                $0.inFlight[tag] = nil
                $0.processed += 1
            }
            self.pendingStores.release()
        }
        // A revoke that came before the task was stored here cancelled nothing: catch up now.
        let cancelledEarlier = state.withLock { s -> Bool in
            guard s.inFlight[tag] != nil else { return false }
            s.inFlight[tag]?.task = task
            return s.inFlight[tag]?.cancelled ?? false
        }
        if cancelledEarlier { task.cancel() }
    }

    func deadLetter(raw: [UInt8], error: any Error, queue: String, tag: String?) async {
        let messageError = error as? MessageError ?? MessageError(field: "envelope", reason: "\(error)")
        logger.error("Received malformed message on queue '\(queue)': \(messageError); moved to the dead-letter list")
        metrics.deadLetters.increment()
        metrics.task(messageError.taskName ?? "unknown", .rejected)
        do {
            try await broker.deadLetter(raw: raw, error: messageError, queue: queue, tag: tag, worker: configuration.nodeName)
            if let id = messageError.taskID {
                // Whoever waits on this id learns why instead of waiting forever.
                let info = ExceptionInfo(type: "InvalidTaskError", message: messageError.description, module: "celery.exceptions")
                try await results.store(.failure(taskID: id, exception: info, traceback: nil),
                                        record: .deadLettered(name: messageError.taskName, queue: queue,
                                                              error: info.pythonRepr, at: Date()))
            }
        } catch {
            logger.critical("could not store a malformed message in the dead-letter list: \(error); pushing it back to '\(queue)'")
            await broker.pushBack(raw: raw, queue: queue)
        }
    }

    /// Stores a document for a message that never ran (revoked, unregistered) and acks it, like any
    /// other outcome (its chord and errbacks hear of it too).
    func finish(_ message: TaskMessage, document: ResultDocument, record: TaskRecord.Update) async {
        await store(document, message: message, writeDocument: true, record: record)
    }

}
