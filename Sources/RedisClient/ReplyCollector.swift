import Synchronization

/// Gathers the replies of one pipeline and hands its outcome over once: every reply, the first
/// error, or a `CancellationError` when the caller gave up. Replies arriving after that are
/// dropped, which is how a cancelled command's reply is discarded without harming the connection.
///
/// `deliver` and `fail` come from the loop thread; `cancel` and `onCompletion` from any thread.
final class ReplyCollector: Sendable {
    typealias Completion = @Sendable (Result<[RESPValue], any Error>) -> Void

    private struct State {
        var replies: [RESPValue]
        var remaining: Int
        var completion: Completion?
        /// The outcome, when it came before `onCompletion`.
        var early: Result<[RESPValue], any Error>?
        var done = false
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(replies: Array(repeating: .null, count: count), remaining: count))
    }

    /// Where the outcome goes; called at once when it is already known.
    func onCompletion(_ completion: @escaping Completion) {
        let early = state.withLock { state -> Result<[RESPValue], any Error>? in
            if let early = state.early {
                state.early = nil
                return early
            }
            state.completion = completion
            return nil
        }
        if let early { completion(early) }
    }

    /// True once an outcome was handed over (or is waiting for `onCompletion`).
    var isDone: Bool { state.withLock { $0.done } }

    func deliver(_ reply: RESPValue, at index: Int) {
        let values = state.withLock { state -> [RESPValue]? in
            guard !state.done else { return nil }
            state.replies[index] = reply
            state.remaining -= 1
            return state.remaining == 0 ? state.replies : nil
        }
        if let values { finish(.success(values)) }
    }

    func fail(_ error: any Error) { finish(.failure(error)) }

    /// The caller stopped waiting; true when it was still waiting (the outcome was not handed over yet).
    @discardableResult
    func cancel() -> Bool { finish(.failure(CancellationError())) }

    @discardableResult
    private func finish(_ outcome: Result<[RESPValue], any Error>) -> Bool {
        let completion = state.withLock { state -> Completion?? in
            guard !state.done else { return .none }
            state.done = true
            state.replies = []
            guard let completion = state.completion else {
                state.early = outcome
                return .some(nil)
            }
            state.completion = nil
            return .some(completion)
        }
        guard let completion else { return false }
        completion?(outcome)
        return true
    }
}
