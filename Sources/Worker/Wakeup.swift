import TaskProtocol

/// Wakes the consumer when a watched list gets a message, without ever taking the message.
///
/// The consumer fetches with an atomic Lua script (pop + hold in one step), which cannot block. So
/// while the consumer waits, one watcher per list blocks in `BLMOVE list list RIGHT RIGHT` — a move
/// of the last element onto the same end of the same list, which changes nothing but returns as soon
/// as the list is non-empty. Watchers only block while the consumer has asked (`demand`), so a
/// non-empty queue with no free slot never spins them.
///
/// A lock, not an actor: a watcher's `signal` resumes the consumer directly, so on the event loop
/// where both run the wake-up reaches the consumer in the same turn, with no hop through an actor.
final class Wakeup: Sendable {
    private struct State {
        /// The waiting consumer, resumed with the tail the first list's watcher saw (or nil).
        var consumer: CheckedContinuation<[UInt8]?, Never>?
        var watchers: [CheckedContinuation<Void, Never>] = []
        var demanded = false
        /// When the consumer's current wait times out; nil while it is not waiting.
        var deadline: ContinuousClock.Instant?
        /// `runTimeouts`, parked while the consumer is not waiting.
        var timer: CheckedContinuation<Void, Never>?
        /// Set by `releaseAll`: nobody waits any more.
        var closed = false

        /// Ends the consumer's wait: the caller resumes what this returns, outside the lock.
        mutating func takeConsumer() -> CheckedContinuation<[UInt8]?, Never>? {
            demanded = false
            deadline = nil
            defer { consumer = nil }
            return consumer
        }
    }

    private let state = Protected(State())

    /// The consumer waits until a watcher sees a message or `timeout` seconds pass; returns the
    /// message the first list's watcher saw at its tail, if that is what woke it.
    func wait(timeout: Double) async -> [UInt8]? {
        let deadline = ContinuousClock.now.advanced(by: .nanoseconds(Int64(TimeBounds.nanoseconds(timeout))))
        return await withCheckedContinuation { continuation in
            let woken = state.withLock { s -> (closed: Bool, watchers: [CheckedContinuation<Void, Never>],
                                               timer: CheckedContinuation<Void, Never>?) in
                if s.closed { return (true, [], nil) }
                s.demanded = true
                s.deadline = deadline
                s.consumer = continuation
                defer {
                    s.watchers.removeAll()
                    s.timer = nil
                }
                return (false, s.watchers, s.timer)
            }
            if woken.closed {
                continuation.resume(returning: nil)
                return
            }
            woken.watchers.forEach { $0.resume() }
            woken.timer?.resume()
        }
    }

    /// Ends each wait that reaches its deadline; runs for the consumer's life, until `releaseAll`.
    /// One long-lived timer rather than one per wait: a wake-up cancels nothing (a cancelled sleep
    /// would wake a pool thread just as the consumer's fetch needs the CPU), and a sleep that ends
    /// after its wait did just sleeps on to the current wait's deadline.
    func runTimeouts() async {
        enum Next { case stop, park, sleep(ContinuousClock.Instant), fired(CheckedContinuation<[UInt8]?, Never>?) }
        while !Task.isCancelled {
            let next = state.withLock { s -> Next in
                if s.closed { return .stop }
                guard let deadline = s.deadline else { return .park }
                return deadline <= ContinuousClock.now ? .fired(s.takeConsumer()) : .sleep(deadline)
            }
            switch next {
            case .stop:
                return
            case .fired(let consumer):
                consumer?.resume(returning: nil)
            case .sleep(let deadline):
                try? await Task.sleep(until: deadline, clock: .continuous)
            case .park:
                await withCheckedContinuation { continuation in
                    let now = state.withLock { s -> Bool in
                        if s.closed || s.deadline != nil { return true }
                        s.timer = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
        }
    }

    /// A watcher saw a message: resume the consumer. `tail`: the message at the tail of the first
    /// list, when that list's watcher saw it.
    func signal(tail: [UInt8]? = nil) {
        state.withLock { $0.takeConsumer() }?.resume(returning: tail)
    }

    /// A watcher suspends here until the consumer is waiting.
    func demand() async {
        if state.withLock({ $0.demanded || $0.closed }) { return }
        await withCheckedContinuation { continuation in
            let now = state.withLock { s -> Bool in
                if s.demanded || s.closed { return true }
                s.watchers.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Lets the consumer, every watcher and the timer run to their end (shutdown).
    func releaseAll() {
        let (watchers, timer, consumer) = state.withLock { s in
            s.closed = true
            defer {
                s.watchers.removeAll()
                s.timer = nil
            }
            return (s.watchers, s.timer, s.takeConsumer())
        }
        watchers.forEach { $0.resume() }
        timer?.resume()
        consumer?.resume(returning: nil)
    }
}
