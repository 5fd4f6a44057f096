import DequeModule

/// Counts free execution slots; `acquire` suspends (no thread blocked) until one is free.
///
/// A lock, not an actor: taking a free slot or giving one back is a few instructions on the caller's
/// own thread. As an actor every call was a hop through the executor (a job enqueued, often a thread
/// woken), four of them per task, which cost a drain more than the task itself.
final class AsyncSemaphore: Sendable {
    private struct State: Sendable {
        var available: Int
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }

    private let state: Protected<State>

    init(_ count: Int) { state = Protected(State(available: count)) }

    func acquire() async {
        let free = state.withLock { s -> Bool in
            guard s.available > 0 else { return false }
            s.available -= 1
            return true
        }
        if free { return }
        await withCheckedContinuation { continuation in
            // A release may have come between the first look and now: take it rather than wait for the next.
            let taken = state.withLock { s -> Bool in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if taken { continuation.resume() }
        }
    }

    /// Callers suspended in `acquire` (for tests).
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Takes up to `count` more slots without waiting; returns how many it took.
    func tryAcquire(upTo count: Int) -> Int {
        state.withLock { s in
            let taken = min(count, max(0, s.available))
            s.available -= taken
            return taken
        }
    }

    /// Gives back `count` slots, each to a waiter if there is one.
    func release(_ count: Int = 1) {
        guard count > 0 else { return }
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            var woken: [CheckedContinuation<Void, Never>] = []
            for _ in 0..<count {
                if let next = s.waiters.popFirst() { woken.append(next) } else { s.available += 1 }
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }
}
