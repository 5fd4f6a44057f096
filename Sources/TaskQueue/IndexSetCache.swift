import Synchronization

/// The index set names (`Broker.indexSets`) of the last task and queue a broker published: a burst of
/// submissions of one task builds its two key names once, not two strings per message. Shared by a
/// broker's copies (their keys are the same: `Broker.keys` is a `let`).
final class IndexSetCache: Sendable {
    private struct Entry {
        var task: String
        var queue: String
        var sets: [String]
    }

    private let last = Mutex<Entry?>(nil)

    /// The sets of `task` in `queue`: the last ones when they are for the same pair, else `make`'s.
    func sets(task: String, queue: String, make: (String, String) -> [String]) -> [String] {
        let hit = last.withLock { entry -> [String]? in
            guard let entry, entry.task == task, entry.queue == queue else { return nil }
            return entry.sets
        }
        if let hit { return hit }
        let sets = make(task, queue)
        last.withLock { $0 = Entry(task: task, queue: queue, sets: sets) }
        return sets
    }
}
