import Synchronization

/// A value behind a `Mutex`, in a class so closures can share it (a `Mutex` itself cannot be
/// captured by an escaping closure). For the Worker and the command line; actors stay the first choice.
package final class Protected<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    /// Holds `value`.
    package init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with the value, under the lock.
    package func withLock<R: Sendable>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { value in try body(&value) }
    }
}
