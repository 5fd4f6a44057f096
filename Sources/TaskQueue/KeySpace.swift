import TaskProtocol

/// Every Redis key Celeriac touches, in one place.
///
/// Celery's keys (queues, `unacked`, `celery-task-meta-*`) are fixed by the wire protocol; Celeriac's
/// own live under `prefix` (default `celeriac:`).
public struct KeySpace: Sendable, Equatable {
    /// Prefix of Celeriac's own keys (`celeriac:`); apps put their keys under it too.
    public var prefix: String { didSet { indexKeys = Self.indexKeys(prefix: prefix) } }
    /// The fixed keys every indexing script takes, in the order `TaskIndex.lua` reads them: the `all`
    /// set, then one set per bucket of `TaskIndex.stateSets` (kept, not rebuilt for every submit).
    private(set) var indexKeys: [String]
    /// kombu's priority emulation (`priority_steps`, `sep`); must match every producer and consumer.
    public var bands: PriorityBands

    /// Celeriac's keys under `prefix`, queues banded as kombu does by default.
    public init(prefix: String = "celeriac:", bands: PriorityBands = .kombuDefault) {
        self.prefix = prefix
        self.bands = bands
        indexKeys = Self.indexKeys(prefix: prefix)
    }

    // Celery / kombu
    /// kombu's hash delivery tag → `[envelope, exchange, routing key]` of every held message.
    public static let unacked = "unacked"
    /// kombu's sorted set of held delivery tags, scored by when they were taken (or last renewed).
    public static let unackedIndex = "unacked_index"
    /// Celery's result document of a task (also the channel it is published on).
    public static func resultKey(_ id: String) -> String { "celery-task-meta-" + id }
    /// Celery's group keys: `celery-taskset-meta-<id>` and, for a chord, its `.j` (parts), `.t` (size
    /// adjustment), `.s` (size, set by the client), `.d` (parts seen) and `.c` (callback claim).
    public static func groupKey(_ id: String, _ suffix: String = "") -> String { "celery-taskset-meta-" + id + suffix }

    // Celeriac
    /// The task record hash (see `TaskRecord`).
    public func taskRecord(_ id: String) -> String { prefix + "task:" + id }
    /// Sorted set of scheduled messages (ETA, countdown, retries), scored by due time; member `list\nenvelope`.
    public var scheduled: String { prefix + "scheduled" }
    /// The task id submitted with an idempotency key (`POST /tasks` with `Idempotency-Key`).
    public func idempotency(_ key: String) -> String { prefix + "idempotency:" + key }
    /// A group submitted over HTTP: its callback (for a chord), size and submission time.
    public func group(_ id: String) -> String { prefix + "group:" + id }
    /// The group id submitted with an idempotency key (`POST /groups` with `Idempotency-Key`).
    public func groupIdempotency(_ key: String) -> String { prefix + "group-idempotency:" + key }
    /// The chain's task ids submitted with an idempotency key (`POST /chains` with `Idempotency-Key`).
    public func chainIdempotency(_ key: String) -> String { prefix + "chain-idempotency:" + key }
    /// The GCRA state (next free start, ms) of a task name's global rate limit.
    public func rateBucket(_ task: String) -> String { prefix + "rate:" + task }
    /// Hash: task name → its global rate limit in Celery's syntax (set over HTTP or Celery's `rate_limit`).
    public var rateLimits: String { prefix + "rate-limits" }
    /// The claim of a unique task (`unique_for`): its id, under the hash of its name and arguments.
    public func unique(_ hash: String) -> String { prefix + "unique:" + hash }
    /// Pub/sub channel on which every revoked task id is published (a channel, not a key).
    public var revokeChannel: String { prefix + "revoke-events" }
    /// List of messages that could not be run, newest first.
    public var deadLetters: String { prefix + "dead" }
    /// Sorted set of worker names scored by their last heartbeat.
    public var workers: String { prefix + "workers" }
    /// A worker's hash: its task names, queues, concurrency, counters and last heartbeat.
    public func worker(_ name: String) -> String { prefix + "worker:" + name }
    /// Sorted set of revoked task ids, scored by when they were revoked.
    public var revoked: String { prefix + "revoked" }
    /// Hash delivery tag → lease token of the Celeriac worker holding it (absent for Python holders).
    public var leases: String { prefix + "leases" }
    /// Hash delivery tag → how many times its holder died while running it (poison-pill detection).
    public var crashes: String { prefix + "crashes" }
}
