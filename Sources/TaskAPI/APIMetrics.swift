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
    private let submissions = Mutex<[Key: Counter]>([:])
    /// Beyond this many task/queue pairs, submissions are counted under `task="other"`: task names
    /// come from clients, and an unbounded label set would grow the registry without limit.
    static let maxLabelSets = 1_000

    func submitted(task: String, queue: String) {
        var key = Key(task: task, queue: queue)
        let counter = submissions.withLock { counters -> Counter in
            if counters[key] == nil, counters.count >= Self.maxLabelSets { key.task = "other" }
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "celeriac_api_submissions_total", dimensions: [("task", key.task), ("queue", key.queue)])
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}
