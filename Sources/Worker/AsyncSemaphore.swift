
/// Counts free execution slots; `acquire` suspends (no thread blocked) until one is free.
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func acquire() async {
        if available > 0 { available -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Takes up to `count` more slots without waiting; returns how many it took.
    func tryAcquire(upTo count: Int) -> Int {
        let taken = min(count, available)
        available -= taken
        return taken
    }

    func release(_ count: Int) {
        for _ in 0..<count { release() }
    }

    func release() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().resume() }
    }
}
