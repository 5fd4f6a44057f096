import Foundation
import TaskProtocol

/// One periodic task: what to send and when. Stored in Redis as JSON (`celeriac:schedules`), so
/// schedules defined in code and over HTTP are one kind, and running beats pick up changes.
public struct PeriodicSchedule: Sendable, Equatable {
    /// When a schedule is due.
    public enum Rule: Sendable, Equatable {
        /// Every so many seconds, at the multiples of it since the Unix epoch (so every replica
        /// computes the same due times).
        case every(Double)
        /// At the times a cron expression names in its time zone.
        case cron(Crontab)
    }

    /// The schedule's unique name (Celery's beat entry name); part of every tick id.
    public var name: String
    /// The task name sent.
    public var task: String
    /// Positional arguments of every tick.
    public var args: [JSONValue]
    /// Keyword arguments of every tick.
    public var kwargs: JSONObject
    /// The queue the ticks go to.
    public var queue: String
    /// When it is due.
    public var rule: Rule

    /// A schedule; `every` must be from 1 s to TimeBounds.maxSecondsAhead (see `validate`).
    public init(name: String, task: String, args: [JSONValue] = [], kwargs: JSONObject = [:], queue: String = "celery", rule: Rule) {
        self.name = name
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.queue = queue
        self.rule = rule
    }

    /// The latest due time in `(reference, now]`, nil when none. `reference` is the due time of the
    /// last tick published (or when a beat first saw the schedule). Catch-up policy, as Celery's:
    /// after an outage a schedule fires once, for its most recent missed due time, not once per miss.
    public func latestDue(after reference: Date, now: Date) -> Date? {
        switch rule {
        case .every(let seconds):
            let due = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / seconds).rounded(.down) * seconds)
            return due > reference ? due : nil
        case .cron(let crontab):
            return crontab.latest(after: reference, upTo: now)
        }
    }

    /// The first due time after `date` (when the beat should wake for it).
    public func nextDue(after date: Date) -> Date? {
        switch rule {
        case .every(let seconds):
            return Date(timeIntervalSince1970: ((date.timeIntervalSince1970 / seconds).rounded(.down) + 1) * seconds)
        case .cron(let crontab):
            return crontab.next(after: date)
        }
    }

    /// The tick id of the due time `due`: schedule name and due time in milliseconds, the idempotency
    /// key that makes a tick publish once whichever beat leads.
    public func tickID(due: Date) -> String {
        "\(name)@\(Int64((due.timeIntervalSince1970 * 1000).rounded()))"
    }
}
