import Glibc

/// Runs a blocking call (a connect, an SMTP conversation) on a thread of its own and awaits it.
///
/// Not `DispatchQueue.global()`: on Linux its small pool starves when several callers block in
/// syscalls at once (measured: a 2 s stall with ten blocked test clients), and never on the Swift
/// concurrency pool, whose threads must not block. Plain pthreads, so this module stays free of
/// Foundation (which costs the HTTP server about 8 MB of RSS).
public func offloaded<T: Sendable>(_ name: String = "celeriac-blocking", _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let job = OffloadedJob {
            continuation.resume(with: Result { try body() })
        }
        let context = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<OffloadedJob>.fromOpaque(raw!).takeRetainedValue()
            job.run()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<OffloadedJob>.fromOpaque(context).release()
            continuation.resume(throwing: SocketError("pthread_create(\(name))", code: rc))
        } else {
            pthread_detach(thread)
        }
    }
}

/// The closure an offloaded thread runs, boxed to cross the C boundary.
private final class OffloadedJob: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
