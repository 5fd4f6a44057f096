import DequeModule
import Foundation
import Logging
import TaskProtocol
import TaskQueue

extension Worker {
    // MARK: executing

    func execute(_ message: TaskMessage, definition: TaskDefinition, plan: ExecutionPlan) async {
        var label: String { "\(message.task)[\(message.id)]" }  // for log lines, built when one is written
        var taskLogger = logger
        taskLogger[metadataKey: "task.id"] = .string(message.id)
        taskLogger[metadataKey: "task.name"] = .string(message.task)
        let context = TaskContext(id: message.id, name: message.task, retries: message.retries, queue: message.queue,
                                  hostname: configuration.nodeName, logger: taskLogger, broker: broker,
                                  reporter: { [self] state, meta in try await reportProgress(message, state: state, meta: meta) })
        let arguments = TaskArguments(args: message.args, kwargs: message.kwargs, parameters: definition.parameters,
                                      taskName: message.task)
        let clock = ContinuousClock()
        let started = clock.now
        let outcome = await runWithLimits(soft: plan.softLimit, hard: plan.hardLimit, tag: message.deliveryTag) {
            try arguments.validate()
            return try await definition.handler(arguments, context)
        }
        // The handler is done: its slot goes to the next task while the result is written. The message
        // stays held (and leased) until the result and the ack are in Redis, so nothing is lost; the
        // number of results being written at once is bounded by `pendingStores`.
        await pendingStores.acquire()
        slots.release()
        if state.withLock({ $0.handedBack.contains(message.deliveryTag) }) {
            logger.info("Task \(label) was handed back at shutdown; its outcome is not stored")
            return
        }
        let runtime = clock.now - started
        let seconds = Double(runtime.components.seconds) + Double(runtime.components.attoseconds) / 1e18
        let finished = Date()
        metrics.runtime(message.task, seconds: seconds)
        switch outcome {
        case .success(let value):
            // Chains and link callbacks go out before the ack: a crash in between re-runs this task
            // (at least once) rather than losing the rest of the chain.
            do {
                try await broker.send(try Canvas.followUps(of: message, result: value))
            } catch {
                logger.error("Task \(label): could not send its chain/callbacks: \(error)")
            }
            // With ignore_result nothing is written, but a chord still gets the value.
            let stored = await store(.success(taskID: message.id, result: value, parentID: message.parentID), message: message,
                                     writeDocument: !message.ignoreResult,
                                     record: .finished(at: finished, runtime: seconds))
            logger.info("Task \(label) succeeded in \(seconds)s: \(PythonRepr.repr(value))")
            // Monitors hear of the outcome that counts: not of one fenced out or revoked meanwhile.
            if stored == .revoked { metrics.task(message.task, .revoked) }
            if stored == .stored || stored == .successAlreadyStored {
                metrics.task(message.task, .succeeded)
                events.task("task-succeeded", ["uuid": .string(message.id), "result": .string(PythonRepr.repr(value)),
                                               "runtime": .double(seconds)])
            }
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
            let stored = await store(.failure(taskID: message.id, exception: info, traceback: traceback, parentID: message.parentID),
                                     message: message, writeDocument: true,
                                     record: .finished(at: finished, runtime: seconds, error: info.pythonRepr))
            logger.error("Task \(label) raised unexpected: \(info.pythonRepr)")
            if stored == .revoked { metrics.task(message.task, .revoked) }
            if stored == .stored {
                metrics.task(message.task, .failed)
                events.task("task-failed", ["uuid": .string(message.id), "exception": .string(info.pythonRepr),
                                            "traceback": .string(traceback)])
            }
        }
    }

    /// Runs `body` with Celery's time limits: at `soft` seconds its Swift task is cancelled (a handler
    /// that stops then fails with `SoftTimeLimitExceeded`); at `hard` seconds the worker stops waiting
    /// and frees the slot (`TimeLimitExceeded`) even if the handler ignores cancellation.
    ///
    /// Without a limit, `body` runs right here, in the calling task (the one `start` made and stored
    /// in `inFlight`, which revoke and shutdown cancel): no task of its own, so no queue round trip
    /// or thread hop between the start stamp and the handler.
    func runWithLimits(soft: Double?, hard: Double?, tag: String,
                               _ body: @escaping @Sendable () async throws -> JSONValue) async -> Result<JSONValue, any Error> {
        guard soft != nil || hard != nil else {
            do { return .success(try await body()) } catch { return .failure(error) }
        }
        let handler = Task { try await body() }
        // A revoke that came before the handler existed cancelled only what there was: catch up now.
        let cancelledEarlier = state.withLock { s -> Bool in
            s.inFlight[tag]?.handler = handler
            return s.inFlight[tag]?.cancelled ?? false
        }
        if cancelledEarlier || Task.isCancelled { handler.cancel() }
        let softFired = Protected(false)
        let softTimer = soft.map { seconds in
            Task {
                try await Task.sleep(nanoseconds: TimeBounds.nanoseconds(seconds))
                softFired.withLock { $0 = true }
                handler.cancel()
            }
        }
        defer { softTimer?.cancel() }
        let first = Protected<CheckedContinuation<Result<JSONValue, any Error>, Never>?>(nil)
        let result: Result<JSONValue, any Error> = await withCheckedContinuation { continuation in
            first.withLock { $0 = continuation }
            Task {
                let r = await handler.result
                first.withLock { $0.take() }?.resume(returning: r)
            }
            if let hard {
                Task {
                    try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(hard))
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

    /// A handler's `context.progress`: the custom-state document (published, as Celery's `update_state`
    /// does) and the record's state, in one step; not fenced by the lease (the final store is), and never
    /// over a SUCCESS or a revocation (the store script refuses both).
    func reportProgress(_ message: TaskMessage, state: TaskState, meta: JSONValue) async throws {
        let tag = message.deliveryTag
        // The first write that says the task runs carries its start (the heartbeat marks only RECEIVED records).
        let startedAt = self.state.withLock { s -> Date? in
            defer { s.inFlight[tag]?.unmarkedStart = nil }
            return s.inFlight[tag]?.unmarkedStart
        }
        var document = ResultDocument.custom(state, meta: meta, taskID: message.id, parentID: message.parentID)
        document.groupID = message.groupID
        try await results.store(document, record: .progressed(state, startedAt: startedAt))
    }

    @discardableResult
    func store(_ document: ResultDocument, message: TaskMessage, writeDocument: Bool, record: TaskRecord.Update,
               schedule: Broker.Scheduled? = nil) async -> ResultBackend.StoreOutcome? {
        // A group member's document names its group, as a Python worker's does.
        var document = document
        if document.groupID == nil { document.groupID = message.groupID }
        let chordPart = message.chordCallback != nil && document.status.isReady
        let errbacks = document.status == .failure ? self.errbacks(of: message) : nil
        if chordPart || errbacks != nil {
            // As Celery orders it: the task's own result first (lease-checked, the message still held),
            // then its errbacks and its chord hear of it, then the ack. A crash in between repeats them
            // (the chord keys count each part once) rather than losing them.
            let kept = await persistently("storing the result of \(message.task)[\(message.id)]") {
                try await results.store(document, record: record, ackTag: message.deliveryTag, leaseToken: leaseToken,
                                        writeDocument: writeDocument, keepHold: true)
            }
            switch kept {
            case .success(.leaseLost): return .leaseLost
            case .success(.revoked): document = .revoked(taskID: message.id, reason: "revoked")
            case .success: break
            case .failure: return nil  // still held: redelivered once the lease runs out
            }
            if let errbacks { await send(errbacks, of: message) }
            if chordPart, await !chordPartReturned(message, document: document) { return nil }  // still held, as above
        }
        let what = "storing the result of \(message.task)[\(message.id)]"
        let outcome: Result<ResultBackend.StoreOutcome, any Error>
        if schedule == nil, !chordPart, errbacks == nil {
            // A plain completion goes with the others finishing now: one script call, each member
            // fenced and answered on its own (retried through outages by the batcher's writer).
            // With ignore_result the document is not written, but the ack is still fenced.
            outcome = await completions.store(ResultBackend.Completion(
                document, record: record, ackTag: message.deliveryTag, leaseToken: leaseToken, writeDocument: writeDocument))
            if case .failure(let error) = outcome { logger.error("\(what) failed: \(error)") }
        } else {
            outcome = await persistently(what) {
                try await results.store(document, record: record, ackTag: message.deliveryTag,
                                        leaseToken: leaseToken, writeDocument: writeDocument, schedule: schedule)
            }
        }
        guard case .success(let stored) = outcome else { return nil }
        if stored == .revoked {
            logger.info("Task \(message.task)[\(message.id)] was revoked; its \(document.status.rawValue) is not stored")
        } else if stored == .leaseLost {
            logger.warning("Task \(message.task)[\(message.id)]: its lease passed to another worker; this attempt's \(document.status.rawValue) is discarded")
        }
        return stored
    }

    /// Runs `body`, trying again while Redis is unreachable (see `retryingThroughOutages`).
    func persistently<T: Sendable>(_ what: String, _ body: () async throws -> T) async -> Result<T, any Error> {
        await retryingThroughOutages(what, logger: logger, isStopping: { isStopping }, body)
    }

    func retryLater(_ message: TaskMessage, retry: Retry, label: String) async {
        let limit = retry.maxRetries ?? configuration.defaultMaxRetries
        if message.retries >= limit {
            let traceback = retry.reason.traceback(task: message.task, id: message.id, worker: configuration.nodeName)
            await store(.failure(taskID: message.id, exception: retry.reason, traceback: traceback, parentID: message.parentID),
                        message: message, writeDocument: true,
                        record: .finished(at: Date(), error: retry.reason.pythonRepr))
            logger.error("Task \(label) raised unexpected: \(retry.reason.pythonRepr) (max retries \(limit) exceeded)")
            metrics.task(message.task, .failed)
            events.task("task-failed", ["uuid": .string(message.id), "exception": .string(retry.reason.pythonRepr),
                                        "traceback": .string(traceback)])
            return
        }
        // A handler's countdown is clamped, not trusted: NaN or a century must not reach a date.
        let after = TimeBounds.isDelay(retry.after) ? retry.after : (retry.after > 0 ? TimeBounds.maxSecondsAhead : 0)
        let due = Date().addingTimeInterval(after)
        var options = TaskMessage.Options()
        options.queue = message.queue
        options.eta = due
        options.expires = message.expires
        options.priority = message.priority
        options.retries = message.retries + 1
        options.parentID = message.id
        options.rootID = message.rootID
        options.origin = configuration.nodeName
        options.groupID = message.groupID
        options.groupIndex = message.groupIndex.map { Int($0) }
        var next = TaskMessage.make(task: message.task, id: message.id, args: message.args, kwargs: message.kwargs, options: options)
        // The next attempt is still the same step of its chain, chord or link (Celery's signature_from_request).
        next.embed = message.embed
        let traceback = retry.reason.traceback(task: message.task, id: message.id, worker: configuration.nodeName)
        // One atomic, fenced step: RETRY document, next attempt scheduled, this one acked.
        let outcome = await store(.retry(taskID: message.id, exception: retry.reason, traceback: traceback, parentID: message.parentID),
                    message: message, writeDocument: true, record: .retried(retries: message.retries + 1),
                    schedule: broker.scheduled(next, at: due))
        if outcome == .stored {
            logger.info("Task \(label) retry: Retry in \(after)s: \(retry.reason.pythonRepr)")
            metrics.task(message.task, .retried)
            events.task("task-retried", ["uuid": .string(message.id), "exception": .string(retry.reason.pythonRepr),
                                         "traceback": .string(traceback)])
        }
    }

}
