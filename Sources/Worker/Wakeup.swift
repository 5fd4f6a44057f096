import TaskProtocol

/// Wakes the consumer when a watched list gets a message, without ever taking the message.
///
/// The consumer fetches with an atomic Lua script (pop + hold in one step), which cannot block. So
/// while the consumer waits, one watcher per list blocks in `BLMOVE list list RIGHT RIGHT` — a move
/// of the last element onto the same end of the same list, which changes nothing but returns as soon
/// as the list is non-empty. Watchers only block while the consumer has asked (`demand`), so a
/// non-empty queue with no free slot never spins them.
actor Wakeup {
    private var consumer: CheckedContinuation<Void, Never>?
    /// The message the first list's watcher saw at its tail, for the consumer's next fetch.
    private var tail: [UInt8]?
    private var watchers: [CheckedContinuation<Void, Never>] = []
    private var demanded = false
    private var generation = 0
    /// Set by `releaseAll`: nobody waits any more.
    private var closed = false

    /// The consumer waits until a watcher sees a message or `timeout` seconds pass; returns the
    /// message the first list's watcher saw at its tail, if that is what woke it.
    func wait(timeout: Double) async -> [UInt8]? {
        if closed { return nil }
        tail = nil
        demanded = true
        generation += 1
        let mine = generation
        let waiting = watchers
        watchers.removeAll()
        waiting.forEach { $0.resume() }
        let timer = Task {
            try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(timeout))
            self.timeOut(generation: mine)
        }
        await withCheckedContinuation { consumer = $0 }
        timer.cancel()
        defer { tail = nil }
        return tail
    }

    private func timeOut(generation: Int) {
        guard generation == self.generation else { return }
        signal()
    }

    /// A watcher saw a message (or the wait timed out): resume the consumer. `tail`: the message
    /// at the tail of the first list, when that list's watcher saw it.
    func signal(tail: [UInt8]? = nil) {
        if consumer != nil, demanded { self.tail = tail }
        demanded = false
        consumer?.resume()
        consumer = nil
    }

    /// A watcher suspends here until the consumer is waiting.
    func demand() async {
        if demanded || closed { return }
        await withCheckedContinuation { watchers.append($0) }
    }

    /// Lets the consumer and every watcher run to their end (shutdown).
    func releaseAll() {
        closed = true
        demanded = true
        watchers.forEach { $0.resume() }
        watchers.removeAll()
        signal()
    }
}
