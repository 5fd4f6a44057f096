import Foundation

/// Runs a blocking call (a connect, an SMTP conversation) on a thread of its own and awaits it.
///
/// Not `DispatchQueue.global()`: on Linux its small pool starves when several callers block in
/// syscalls at once (measured: a 2 s stall with ten blocked test clients), and never on the Swift
/// concurrency pool, whose threads must not block.
public func offloaded<T: Sendable>(_ name: String = "celeriac-blocking", _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}
