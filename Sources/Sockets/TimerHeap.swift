/// A loop timer's handle, for `EventLoop.cancelTimer`.
public struct LoopTimer: Hashable, Sendable {
    let id: UInt64
}

/// Deadlines on the monotonic clock with their actions, earliest first. Cancelling removes the
/// action only; its heap entry is skipped when it comes up (and compacted away when they pile up).
struct TimerHeap {
    private var heap: [(deadline: UInt64, id: UInt64)] = []
    private var actions: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 0

    mutating func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        nextID &+= 1
        actions[nextID] = action
        push((deadline, nextID))
        if heap.count > 1024 && heap.count > 4 * actions.count { compact() }
        return LoopTimer(id: nextID)
    }

    mutating func cancel(_ timer: LoopTimer) { actions[timer.id] = nil }

    /// The earliest deadline still armed, or nil.
    mutating func nextDeadline() -> UInt64? {
        while let top = heap.first {
            if actions[top.id] != nil { return top.deadline }
            pop()
        }
        return nil
    }

    /// Removes and returns the action of the earliest timer due at `now`, or nil.
    mutating func popDue(now: UInt64) -> (() -> Void)? {
        while let top = heap.first, top.deadline <= now {
            pop()
            if let action = actions.removeValue(forKey: top.id) { return action }
        }
        return nil
    }

    private mutating func compact() {
        let live = heap.filter { actions[$0.id] != nil }
        heap = []
        for entry in live { push(entry) }
    }

    private mutating func push(_ entry: (deadline: UInt64, id: UInt64)) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].deadline <= heap[child].deadline { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func pop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count && heap[right].deadline < heap[smallest].deadline { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
