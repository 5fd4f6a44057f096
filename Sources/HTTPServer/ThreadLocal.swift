import Glibc

/// A value per thread, made on a thread's first use and released when the thread exits: state an
/// event loop keeps to itself (per-loop caches) with no lock and no cache line shared with other loops.
/// The owner must outlive every thread's use (a middleware does: the server holds it until it stops).
final class ThreadLocal<Value: AnyObject>: @unchecked Sendable {
    // A `let`: read on every use, and a `var` of a class costs a dynamic exclusivity check per read.
    private let key: pthread_key_t
    private let make: @Sendable () -> Value

    init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
        }
        precondition(status == 0, "pthread_key_create: \(status)")
        self.key = key
    }

    deinit {
        // Values of threads still running stay allocated: pthread_key_delete runs no destructor.
        pthread_key_delete(key)
    }

    /// Runs `body` with this thread's value; on a thread's first use the value is made and passed to
    /// `didMake` first (to register it with whoever reads all threads' values).
    @inline(__always) func withValue<R>(_ body: (Value) -> R, didMake: (Value) -> Void = { _ in }) -> R {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<Value>.fromOpaque(pointer)._withUnsafeGuaranteedRef(body)
        }
        let made = make()
        didMake(made)
        pthread_setspecific(key, Unmanaged<AnyObject>.passRetained(made as AnyObject).toOpaque())
        return body(made)
    }
}
