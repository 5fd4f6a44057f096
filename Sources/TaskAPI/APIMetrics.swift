import CoreMetrics
import Synchronization

/// The API's own metrics, beyond what `RequestMetrics` counts per route: long polls open now
/// (`celeriac_api_long_polls_open`) and accepted submissions by task and queue
/// (`celeriac_api_submissions_total{task,queue}`). Handles are cached per label set.
final class APIMetrics: Sendable {
    private struct Key: Hashable {
        var task: String
        var queue: String
    }

    let longPolls = Meter(label: "celeriac_api_long_polls_open")
    private let submissions = Mutex<Counters>(Counters())
    /// Beyond this many task/queue pairs, submissions are counted under `task="other"`: task names
    /// come from clients, and an unbounded label set would grow the registry without limit.
    static let maxLabelSets = 1_000

    /// The counters by label set, and the last one used: a run of submissions of one task to one
    /// queue (the common case) compares two strings instead of hashing them.
    private struct Counters {
        var byKey: [Key: Counter] = [:]
        var last: (task: String, queue: String, counter: Counter)?
    }

    func submitted(task: String, queue: String) {
        let counter = submissions.withLock { counters -> Counter in
            if let last = counters.last, last.task == task, last.queue == queue { return last.counter }
            var key = Key(task: task, queue: queue)
            if counters.byKey[key] == nil, counters.byKey.count >= Self.maxLabelSets { key.task = "other" }
            let counter: Counter
            if let found = counters.byKey[key] {
                counter = found
            } else {
                counter = Counter(label: "celeriac_api_submissions_total", dimensions: [("task", key.task), ("queue", key.queue)])
                counters.byKey[key] = counter
            }
            counters.last = (task, queue, counter)
            return counter
        }
        counter.increment()
    }
}
