import RedisClient
import Synchronization

extension EnqueueBatcher {
    /// On an event loop: the message joins the loop's batch of this turn, which leaves at the end of the
    /// turn (just before the loop's Redis writes are flushed). A request never waits for another call.
    nonisolated(nonsending) func enqueueInTurn(of turn: LoopTurn, _ entry: Enqueue.Entry, shape: Shape) async throws {
        let outcome = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Turn, any Error>) in
            let job = Job(entry: entry, shape: shape, continuation: continuation)
            let opened = turns.withLock { turns -> Bool in
                let key = turn.id
                guard turns[key] != nil else {
                    turns[key] = [job]
                    return true
                }
                turns[key]!.append(job)
                return false
            }
            if opened { turn.atEnd { self.flushTurn(of: turn) } }
        }
        precondition(outcome == .published, "a turn's message is answered, never made to lead")
    }

    /// The turn's messages, in calls of at most `maxBatch` sharing a shape, each sent from here (the
    /// loop thread) and answered from the loop when Redis replies.
    private func flushTurn(of turn: LoopTurn) {
        let jobs = turns.withLock { $0.removeValue(forKey: turn.id) ?? [] }
        var groups: [[Job]] = []
        for job in jobs {
            if let k = groups.lastIndex(where: { $0[0].shape == job.shape && $0.count < Self.maxBatch }) {
                groups[k].append(job)
            } else {
                groups.append([job])
            }
        }
        for group in groups {
            Task.immediate(executorPreference: turn.executor) {
                let outcome = await self.publish(group.map(\.entry), shape: group[0].shape)
                for (k, job) in group.enumerated() {
                    job.continuation.resume(with: outcome.flatMap { $0[k] }.map { .published })
                }
            }
        }
    }
}
