import Foundation

/// Polls `condition` until it holds or `timeout` seconds pass: tests wait on conditions, never fixed sleeps.
@discardableResult
public func waitUntil(timeout: Double = 30, interval: Double = 0.01,
                      _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
    }
    return try await condition()
}

/// Paths of the repository, for fixtures and built binaries.
public enum RepoPaths {
    /// The repository root (found from this file's location).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The captured Celery 5.7 fixtures, copied from `shared/celery-vectors` into the repository.
    public static var celeryVectors: URL { root.appendingPathComponent("Tests/Fixtures/celery-vectors") }
    /// The Python interpreter of the venv with `celery[redis]==5.7.0` (`make test` sets it up).
    public static var python: String {
        ProcessInfo.processInfo.environment["CELERIAC_PYTHON"] ?? root.appendingPathComponent(".run/venv/bin/python").path
    }
}
