import Foundation
import TaskProtocol
import TaskQueue

extension Worker {
    /// A task failed for good: its `link_error` errbacks go out (before the ack, like a chain's next
    /// task: a crash in between sends them again rather than never).
    func sendErrbacks(_ message: TaskMessage, document: ResultDocument) async {
        guard document.status == .failure else { return }
        do {
            for errback in try Canvas.errbacks(of: message) {
                try await broker.enqueue(errback)
                logger.info("Task \(message.task)[\(message.id)]: sent errback \(errback.task)[\(errback.id)]")
            }
        } catch {
            logger.error("Task \(message.task)[\(message.id)]: could not send its errbacks: \(error)")
        }
    }

    /// Celery's chord, from the header's side: each finished header task records its part; the worker
    /// that completes the set sends the callback with the list of results, or, when a part failed or
    /// was revoked, stores a FAILURE `ChordError` for the callback instead, as Celery does.
    func chordPartReturned(_ message: TaskMessage, document: ResultDocument) async {
        guard let callback = message.chordCallback, let group = message.groupID, document.status.isReady else { return }
        let progress: Broker.ChordProgress
        do {
            progress = try await broker.chordPartReturned(groupID: group, taskID: message.id, groupIndex: message.groupIndex,
                                                         state: document.status, result: document.result)
        } catch {
            logger.error("Chord \(group): could not record part \(message.id): \(error)")
            return
        }
        guard case .complete(let parts, let token) = progress else { return }
        let callbackID = callback.objectValue?["options"]?.objectValue?["task_id"]?.stringValue
        do {
            if let failed = parts.first(where: { $0.state != .success }) {
                let cause = ExceptionInfo(json: failed.result)?.pythonRepr ?? failed.state.rawValue
                let error = ExceptionInfo(type: "ChordError", message: "Dependency \(failed.taskID) raised \(cause)",
                                          module: "celery.exceptions")
                logger.error("Chord \(group) raised: \(error.pythonRepr)")
                if let callbackID {
                    try await results.store(.failure(taskID: callbackID, exception: error, traceback: nil))
                }
            } else {
                let next = try Canvas.chordCallback(callback, parent: message, results: parts.map(\.result))
                try await broker.enqueue(next)
                logger.info("Chord \(group) complete: sent \(next.task)[\(next.id)]")
            }
            try await broker.chordDone(groupID: group, claimToken: token)
        } catch {
            // The claim runs out, so a redelivered part can try again.
            logger.error("Chord \(group): could not send its callback: \(error)")
            if let callbackID {
                let info = ExceptionInfo(type: "ChordError", message: "Callback error: \(error)", module: "celery.exceptions")
                _ = try? await results.store(.failure(taskID: callbackID, exception: info, traceback: nil))
            }
        }
    }
}
