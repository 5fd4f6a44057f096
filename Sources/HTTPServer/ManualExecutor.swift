import Glibc
import Synchronization

/// A `SessionExecutor` that runs nothing until told: jobs and closures queue until `run()`, which runs them
/// on the calling thread. With `MemoryTransport` it makes a session's handlers deterministic (unit tests,
/// fuzzing). `execute` from the thread that created it runs inline, as the event loop does on its own thread.
public final class ManualExecutor: SessionExecutor, @unchecked Sendable {
    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private let queue = Mutex<[Work]>([])
    private let owner = pthread_self()

    /// An executor owned by the calling thread.
    public init() {}

    /// Queues a task's job (the `TaskExecutor` requirement).
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.withLock { $0.append(.job(unowned)) }
    }

    /// Runs `work` inline on the owning thread, else queues it for `run()`.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        if pthread_equal(pthread_self(), owner) != 0 { work() } else { queue.withLock { $0.append(.closure(work)) } }
    }

    /// Runs `action` at once: a manually run session has no turns, and its tests read output right after each step.
    public func atEndOfTurn(_ action: @escaping () -> Void) { action() }

    /// Runs what is queued, and what that queues, until nothing is left. Returns how many items ran.
    @discardableResult
    public func run() -> Int {
        var count = 0
        while true {
            let items = queue.withLock { queue -> [Work] in
                defer { queue.removeAll() }
                return queue
            }
            if items.isEmpty { return count }
            for item in items {
                switch item {
                case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
                case .closure(let work): work()
                }
            }
            count += items.count
        }
    }

    /// Whether anything waits for `run()`.
    public var hasWork: Bool { queue.withLock { !$0.isEmpty } }
}
