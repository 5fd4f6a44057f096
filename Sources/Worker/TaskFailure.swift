import TaskProtocol

/// A handler asks for another attempt later: `throw Retry(after: 5, reason: error)`.
/// Celery's `self.retry(exc=…, countdown=…)`: same task id, `retries + 1`, through the scheduled set.
public struct Retry: Error, Sendable {
    /// Seconds until the next attempt.
    public var after: Double
    /// The error that caused it (stored in the RETRY document and, when retries run out, the FAILURE).
    public var reason: ExceptionInfo
    /// Attempts allowed after the first; nil uses the worker's default (3, as Celery).
    public var maxRetries: Int?

    public init(after: Double, reason: any Error, maxRetries: Int? = nil) {
        self.after = after
        self.reason = ExceptionInfo.from(reason)
        self.maxRetries = maxRetries
    }
}

/// Lets an error choose the exception Python sees (`exc_type`, `exc_module`, `exc_message`).
public protocol CeleryException: Error {
    var exceptionInfo: ExceptionInfo { get }
}

extension ExceptionInfo {
    /// How any Swift error is stored for Python: an `ExceptionInfo` as is, a `CeleryException` as it
    /// says, anything else as `<SwiftTypeName>` in module `celeriac` with its description as message.
    public static func from(_ error: any Error) -> ExceptionInfo {
        if let info = error as? ExceptionInfo { return info }
        if let custom = error as? any CeleryException { return custom.exceptionInfo }
        if let retry = error as? Retry { return retry.reason }
        if error is CancellationError { return ExceptionInfo(type: "SoftTimeLimitExceeded", message: "cancelled", module: "celery.exceptions") }
        return ExceptionInfo(type: String(describing: Swift.type(of: error)), message: String(describing: error), module: "celeriac")
    }

    /// A short traceback-like text for the `traceback` field (Swift has no Python traceback).
    public func traceback(task: String, id: String, worker: String) -> String {
        "Traceback (most recent call last):\n  Celeriac worker \(worker), task \(task)[\(id)]\n\(module == "builtins" ? "" : module + ".")\(type): \(text)\n"
    }
}
