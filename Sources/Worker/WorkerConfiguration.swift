/// How a worker runs. Defaults follow Celery where Celery has one.
public struct WorkerConfiguration: Sendable {
    /// Queues to consume, in priority order (`-Q celery,emails`). Default `["celery"]`.
    public var queues: [String] = ["celery"]
    /// Tasks run at the same time (`-c`). Default: the number of CPUs, as Celery.
    public var concurrency: Int = 2
    /// Node name (`-n w1@%h`, already expanded).
    public var nodeName: String = "celery@localhost"
    /// Seconds an idle consumer waits for a wake-up before it fetches anyway (Celery's `brpop_timeout`):
    /// a safety net only, as a shutdown and a watcher's wake-up end the wait at once. Default 1.
    public var popTimeout: Double = 1
    /// Seconds a watcher's content-preserving `BLMOVE` blocks before it is sent again. Each one is a
    /// Redis round trip per consumed list (a queue has 4 priority lists) for an idle worker, so it is
    /// long: a shutdown closes the watchers' connections, and the consumer's `popTimeout` fetch
    /// covers a connection that died silently. Default 30.
    public var watchTimeout: Double = 30
    /// Seconds between heartbeats (worker registry, renewal of held messages, scheduled promotion). Default 2.
    public var heartbeatInterval: Double = 2
    /// Seconds a held message may go without renewal before any worker's sweep hands it back.
    /// Default 3600, kombu's `visibility_timeout`, so Python workers sharing the queues behave the same.
    public var visibilityTimeout: Double = 3600
    /// Seconds a Celeriac worker's hold lasts without a heartbeat renewing it: when a worker dies
    /// (SIGKILL, machine gone) its tasks go back to their queues about this long after. Default 30.
    public var leaseTimeout: Double = 30
    /// Times a task's worker may die while running it before the task is dead-lettered as a poison pill. Default 3.
    public var maxCrashes: Int = 3
    /// Seconds between visibility sweeps. Default 5.
    public var sweepInterval: Double = 5
    /// Seconds to let in-flight tasks finish on SIGTERM before handing them back. Default 30.
    public var shutdownGrace: Double = 30
    /// The longest the due-task promoter sleeps between looks at the scheduled set. It sleeps until the
    /// earliest due time there and is woken when this process schedules something, so this bounds only
    /// how late it sees a message another process scheduled (and died before promoting). Default 2.
    public var scheduleInterval: Double = 2
    /// Messages held per slot, running or waiting (Celery's `worker_prefetch_multiplier`). Default 4;
    /// 1 disables prefetch. Prefetched messages are leased and renewed like running ones.
    public var prefetchMultiplier: Int = 4
    /// Retries a task gets when its handler throws `Retry` without a limit. Celery's default 3.
    public var defaultMaxRetries: Int = 3
    /// Send task events for monitors such as Flower (`-E`). Worker events (online, heartbeat, offline)
    /// are sent either way, as Celery does. Default false.
    public var sendTaskEvents = false
    /// What `worker-heartbeat` events report as `sw_ver`.
    public var softwareVersion = "0.1.0"

    public init() {}
}
