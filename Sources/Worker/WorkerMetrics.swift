import CoreMetrics
import Foundation
import Synchronization
import TaskProtocol

/// A worker's metrics through swift-metrics (the app bootstraps Prometheus): tasks by name and
/// outcome, runtime and queue-wait histograms, redeliveries, dead letters, and gauges that
/// `Worker.refreshGauges()` sets when scraped (active, prefetched, queue lengths).
///
/// Task names come from messages, not only from the registry: beyond `maxLabelSets` names, tasks are
/// counted under `task="other"` so a stream of made-up names cannot grow the registry without end.
final class WorkerMetrics: Sendable {
    /// What became of a task, as `celeriac_tasks_total{outcome}` says it.
    enum Outcome: String, Sendable {
        case succeeded, failed, retried, revoked, rejected
    }

    static let maxLabelSets = 1_000
    /// The header the API stamps on a message when it accepts it (seconds since 1970): the start of
    /// its queue wait. Messages from Python producers lack it and are not in the histogram.
    static let sentAtHeader = "celeriac_sent_at"

    private let counters = Mutex<[String: Counter]>([:])
    private let runtimes = Mutex<[String: CoreMetrics.Timer]>([:])
    private let waits = Mutex<[String: CoreMetrics.Timer]>([:])
    let redeliveries = Counter(label: "celeriac_redeliveries_total")
    let deadLetters = Counter(label: "celeriac_dead_letters_total")
    let active = Gauge(label: "celeriac_worker_active_tasks")
    let prefetched = Gauge(label: "celeriac_worker_prefetched_tasks")
    private let queueLengths = Mutex<[String: Gauge]>([:])

    func task(_ name: String, _ outcome: Outcome) {
        let key = name + "\u{0}" + outcome.rawValue
        cached(counters, key, name) { Counter(label: "celeriac_tasks_total", dimensions: [("task", $0), ("outcome", outcome.rawValue)]) }
            .increment()
    }

    func runtime(_ name: String, seconds: Double) {
        cached(runtimes, name, name) { CoreMetrics.Timer(label: "celeriac_task_runtime_seconds", dimensions: [("task", $0)]) }
            .recordNanoseconds(Int64(min(max(seconds, 0), 1e9) * 1e9))
    }

    /// The time from acceptance (or the ETA, when later) to now, for a message that is starting.
    func started(_ message: TaskMessage, queue: String, at now: Date) {
        guard let sent = message.headers[Self.sentAtHeader]?.doubleValue, sent.isFinite else { return }
        let from = max(sent, message.eta?.timeIntervalSince1970 ?? 0)
        let seconds = min(max(now.timeIntervalSince1970 - from, 0), 1e9)
        cached(waits, queue, queue) { CoreMetrics.Timer(label: "celeriac_task_queue_wait_seconds", dimensions: [("queue", $0)]) }
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    func queueLength(_ queue: String, _ length: Int) {
        let gauge = queueLengths.withLock { gauges in
            if let gauge = gauges[queue] { return gauge }
            let gauge = Gauge(label: "celeriac_queue_length", dimensions: [("queue", queue)])
            gauges[queue] = gauge
            return gauge
        }
        gauge.record(length)
    }

    /// The handle under `key`, made by `make(label)` once; "other" replaces the label past the cap.
    private func cached<M>(_ cache: borrowing Mutex<[String: M]>, _ key: String, _ label: String, _ make: (String) -> M) -> M {
        cache.withLock { handles in
            if let handle = handles[key] { return handle }
            if handles.count >= Self.maxLabelSets {
                let other = "other" + key.drop(while: { $0 != "\u{0}" })
                if let handle = handles[other] { return handle }
                let handle = make("other")
                handles[other] = handle
                return handle
            }
            let handle = make(label)
            handles[key] = handle
            return handle
        }
    }
}
