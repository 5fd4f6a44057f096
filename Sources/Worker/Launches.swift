/// Lets an idle consumer wait until the tasks it just started have begun on the pool before it
/// re-arms its watchers. On a small machine the re-arm (a turn of loop work, and a BLMOVE whose
/// write wakes Redis) otherwise competes for a CPU with the pool thread that is waking up to run
/// the handler: the one thing on the idle path that a submitter is waiting for. Nothing is lost by
/// the delay: a message that comes meanwhile is in its list, and the re-armed BLMOVE returns at once.
final class Launches: Sendable {
    private struct State {
        var pending = 0
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Protected(State())

    /// Called before a task is created: `wait` now waits for its `begun` too.
    func expect() { state.withLock { $0.pending += 1 } }

    /// Called by a started task as it begins, on the pool.
    func begun() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.pending -= 1
            guard s.pending <= 0 else { return nil }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Returns once every expected task has begun (at once when none was).
    func wait() async {
        if state.withLock({ $0.pending <= 0 }) { return }
        await withCheckedContinuation { continuation in
            let now = state.withLock { s -> Bool in
                if s.pending <= 0 { return true }
                s.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}
