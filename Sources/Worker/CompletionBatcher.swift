import DequeModule
import TaskQueue

/// Writes the plain completions of tasks that finish close together in one script call
/// (`ResultBackend.store(batch:)`) instead of one round trip each.
///
/// Natural batching, no timer: a completion that finds no write in flight is written at once, alone;
/// completions that arrive while a write is in flight wait for it and go together in the next one
/// (at most `limit` per call). Each caller gets its own outcome; every guarantee of a single store
/// holds per member (see `StoreResults`). How many completions wait here at once is bounded by the
/// worker's `pendingStores`, taken before a completion comes here.
final class CompletionBatcher: Sendable {
    /// Writes one batch: one outcome per completion, in order, or one error for all of them.
    typealias Write = @Sendable ([ResultBackend.Completion]) async
        -> Result<[Result<ResultBackend.StoreOutcome, any Error>], any Error>

    private struct Waiting: Sendable {
        var completion: ResultBackend.Completion
        var continuation: CheckedContinuation<Result<ResultBackend.StoreOutcome, any Error>, Never>
    }

    private struct State: Sendable {
        var waiting: Deque<Waiting> = []
        var writing = false
    }

    /// Most completions in one script call (its KEYS and ARGV grow with each).
    let limit: Int
    private let write: Write
    private let state = Protected(State())

    /// A batcher that hands at most `limit` completions at a time to `write`.
    init(limit: Int = 64, write: @escaping Write) {
        self.limit = max(1, limit)
        self.write = write
    }

    /// Completions waiting for the next write (for tests).
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Stores `completion` with whatever else is waiting; returns its own outcome.
    func store(_ completion: ResultBackend.Completion) async -> Result<ResultBackend.StoreOutcome, any Error> {
        await withCheckedContinuation { continuation in
            let starts = state.withLock { s -> Bool in
                s.waiting.append(Waiting(completion: completion, continuation: continuation))
                defer { s.writing = true }
                return !s.writing
            }
            if starts { Task { await self.writeWhileWaiting() } }
        }
    }

    /// Writes batches until nobody waits; exactly one runs at a time (`writing`).
    private func writeWhileWaiting() async {
        while true {
            let batch = state.withLock { s -> [Waiting] in
                let taken = Array(s.waiting.prefix(limit))
                s.waiting.removeFirst(taken.count)
                if taken.isEmpty { s.writing = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            let written = await write(batch.map(\.completion))
            switch written {
            case .success(let outcomes) where outcomes.count == batch.count:
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(returning: outcome) }
            case .success(let outcomes):
                let error = TaskQueueError.unexpectedReply(operation: "storing \(batch.count) results",
                                                           reply: "\(outcomes.count) outcomes")
                for waiting in batch { waiting.continuation.resume(returning: .failure(error)) }
            case .failure(let error):
                for waiting in batch { waiting.continuation.resume(returning: .failure(error)) }
            }
        }
    }
}
