import TaskProtocol

/// A sleep that ends early when someone rings: background loops wait for work or for a deadline
/// instead of polling. A ring while nobody sleeps is kept, so the next sleep returns at once (no
/// lost wake-up); several rings before a sleep count as one.
final class Alarm: Sendable {
    private struct State {
        var rung = false
        var sleeper: CheckedContinuation<Void, Never>?
        /// Numbers each sleep, so a late timer or cancellation never ends the next one.
        var sleep = 0
        /// The last sleep whose timer ran out (or was cancelled) before its continuation was stored.
        var ended = 0
    }
    private let state = Protected(State())

    /// Returns when rung (or a ring is pending), after `seconds` (nil: no deadline), or on cancellation.
    func sleep(upTo seconds: Double?) async {
        let mine: Int? = state.withLock { s in
            if s.rung { s.rung = false; return nil }
            s.sleep += 1
            return s.sleep
        }
        guard let mine else { return }
        let timer = seconds.map { seconds in
            Task { [self] in
                try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(seconds))
                end(mine)
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.rung || s.ended == mine { s.rung = false; return true }
                    s.sleeper = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            end(mine)
        }
        timer?.cancel()
    }

    /// Wakes the sleeper, or the next one to sleep.
    func ring() {
        let sleeper = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let sleeper = s.sleeper else { s.rung = true; return nil }
            s.sleeper = nil
            return sleeper
        }
        sleeper?.resume()
    }

    private func end(_ sleep: Int) {
        let sleeper = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.sleep == sleep else { return nil }
            guard let sleeper = s.sleeper else { s.ended = sleep; return nil }
            s.sleeper = nil
            return sleeper
        }
        sleeper?.resume()
    }
}
