/// Celery's task states, with Celeriac's `RECEIVED` (a worker holds the message), and any custom state a
/// task reports itself (Celery's `update_state(state="PROGRESS", meta=…)`): a struct, not an enum, so a
/// document another worker wrote with a state of its own still reads.
public struct TaskState: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The state's name as stored in `status` (Celery's spelling, upper case by convention).
    public let rawValue: String

    /// Any non-empty name up to 64 bytes; nil otherwise (not a state, so not a result document).
    public init?(rawValue: String) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 64 else { return nil }
        self.rawValue = rawValue
    }

    private init(known: String) { rawValue = known }

    /// Not (yet) known to any worker.
    public static let pending = TaskState(known: "PENDING")
    /// Held by a worker, waiting in its prefetch buffer.
    public static let received = TaskState(known: "RECEIVED")
    /// Running.
    public static let started = TaskState(known: "STARTED")
    /// Failed and scheduled to run again.
    public static let retry = TaskState(known: "RETRY")
    /// Returned a value.
    public static let success = TaskState(known: "SUCCESS")
    /// Raised an exception (final).
    public static let failure = TaskState(known: "FAILURE")
    /// Revoked before or while running.
    public static let revoked = TaskState(known: "REVOKED")
    /// The custom state Celery's docs use for progress reports (`TaskContext.progress`).
    public static let progress = TaskState(known: "PROGRESS")

    /// Celery's own states; any other is a custom one a task reported.
    public static let builtIn: Set<TaskState> = [.pending, .received, .started, .retry, .success, .failure, .revoked]

    /// Ready states are final: Celery sets `date_done` only for them and `get()` returns on them.
    /// A custom state is never ready (Celery's `READY_STATES` is fixed), so a long poll waits past it.
    public var isReady: Bool { self == .success || self == .failure || self == .revoked }

    /// A state a task reported itself, with its meta object as the document's `result`.
    public var isCustom: Bool { !Self.builtIn.contains(self) }

    public var description: String { rawValue }
}
