import Foundation
import TaskProtocol
import TaskQueue

extension Worker {
    /// A failed task's `link_error` errbacks, nil when it has none (or they cannot be sent, logged).
    func errbacks(of message: TaskMessage) -> Canvas.FollowUps? {
        do {
            let errbacks = try Canvas.errbacks(of: message)
            return errbacks.messages.isEmpty ? nil : errbacks
        } catch {
            logger.error("Task \(message.task)[\(message.id)]: could not send its errbacks: \(error)")
            return nil
        }
    }

    /// A task failed for good: its errbacks go out (before the ack, like a chain's next task: a crash
    /// in between sends them again rather than never).
    func send(_ errbacks: Canvas.FollowUps, of message: TaskMessage) async {
        if case .success = await persistently("sending the errbacks of \(message.task)[\(message.id)]", { try await broker.send(errbacks) }) {
            for errback in errbacks.messages {
                logger.info("Task \(message.task)[\(message.id)]: sent errback \(errback.task)[\(errback.id)]")
            }
        }
    }

    /// Celery's chord, from the header's side: each finished header task records its part; the worker
    /// that completes the set sends the callback with the list of results, or, when a part failed or
    /// was revoked, stores a FAILURE `ChordError` for the callback instead, as Celery does.
    /// False when Redis could not be reached (shutting down): the part's message must stay held, so
    /// that its redelivery records the part again.
    func chordPartReturned(_ message: TaskMessage, document: ResultDocument) async -> Bool {
        guard let callback = message.chordCallback, let group = message.groupID, document.status.isReady else { return true }
        let recorded = await persistently("recording chord \(group)'s part \(message.id)") {
            try await broker.chordPartReturned(groupID: group, taskID: message.id, groupIndex: message.groupIndex,
                                               state: document.status, result: document.result)
        }
        let parts: [Broker.ChordPart], token: String
        switch recorded {
        case .success(.waiting): return true
        case .success(.complete(let p, let t)): (parts, token) = (p, t)
        case .failure(let error): return !Self.isConnectivity(error)
        }
        let callbackID = callback.objectValue?["options"]?.objectValue?["task_id"]?.stringValue
        if let failed = parts.first(where: { $0.state != .success }) {
            let cause = ExceptionInfo(json: failed.result)?.pythonRepr ?? failed.state.rawValue
            await failChordCallback(callbackID, group: group, ExceptionInfo(type: "ChordError", message: "Dependency \(failed.taskID) raised \(cause)",
                                                                       module: "celery.exceptions"))
        } else {
            do {
                let next = try Canvas.chordCallback(callback, parent: message, results: parts.map(\.result))
                // While the claim (a few seconds) is held nobody else sends it; past that, a redelivered
                // part may send it too: at least once.
                if case .failure(let error) = await persistently("sending chord \(group)'s callback", { try await broker.send(next) }) {
                    // Not sent, not marked done: the claim runs out and a redelivered part tries again.
                    if Self.isConnectivity(error) { return false }
                    throw error
                }
                logger.info("Chord \(group) complete: sent \(next.messages.map { "\($0.task)[\($0.id)]" }.joined(separator: ", "))")
            } catch {
                await failChordCallback(callbackID, group: group, ExceptionInfo(type: "ChordError", message: "Callback error: \(error)",
                                                                           module: "celery.exceptions"))
            }
        }
        _ = await persistently("clearing chord \(group)") { try await broker.chordDone(groupID: group, claimToken: token) }
        return true
    }

    static func isConnectivity(_ error: any Error) -> Bool { TaskQueueError.isConnectivity(error) }

    /// Stores the FAILURE of a chord callback that will never run.
    private func failChordCallback(_ callbackID: String?, group: String, _ error: ExceptionInfo) async {
        logger.error("Chord \(group) raised: \(error.pythonRepr)")
        guard let callbackID else { return }
        _ = await persistently("storing chord \(group)'s ChordError") {
            try await results.store(.failure(taskID: callbackID, exception: error, traceback: nil))
        }
    }
}
