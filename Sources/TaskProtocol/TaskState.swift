/// Celery's task states, with Celeriac's `RECEIVED` (a worker holds the message).
public enum TaskState: String, Sendable, CaseIterable, Codable {
    case pending = "PENDING"
    case received = "RECEIVED"
    case started = "STARTED"
    case retry = "RETRY"
    case success = "SUCCESS"
    case failure = "FAILURE"
    case revoked = "REVOKED"

    /// Ready states are final: Celery sets `date_done` only for them and `get()` returns on them.
    public var isReady: Bool { self == .success || self == .failure || self == .revoked }
}
