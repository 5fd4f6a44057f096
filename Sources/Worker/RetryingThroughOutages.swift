import Logging
import TaskProtocol
import TaskQueue

/// Runs `body`, trying again while Redis is unreachable: what it writes exists only in this worker's
/// memory until then. Gives up (the error, logged) on any other error, or once `isStopping` says so.
/// The wait between tries doubles from 0.1 s up to 2 s.
func retryingThroughOutages<T: Sendable>(_ what: String, logger: Logger, isStopping: () -> Bool,
                                        _ body: () async throws -> T) async -> Result<T, any Error> {
    var delay = 0.1
    while true {
        do {
            return .success(try await body())
        } catch where TaskQueueError.isConnectivity(error) && !isStopping() {
            logger.warning("\(what) failed (\(error)); retrying")
            // Not cancellable: a revoked task's cancellation must not turn this into a busy loop.
            let wait = delay
            await Task.detached { try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(wait)) }.value
            delay = min(delay * 2, 2)
        } catch {
            logger.error("\(what) failed: \(error)")
            return .failure(error)
        }
    }
}
