import Foundation

/// Where the beat reads the time and waits: injectable, so tests freeze time instead of sleeping.
public protocol BeatClock: Sendable {
    /// The current instant.
    func now() -> Date
    /// Waits `seconds` (throws when the task is cancelled).
    func sleep(seconds: Double) async throws
}

/// The wall clock and `Task.sleep`.
public struct SystemBeatClock: BeatClock {
    /// The system clock.
    public init() {}
    /// `Date()`.
    public func now() -> Date { Date() }
    /// `Task.sleep`, cancellable.
    public func sleep(seconds: Double) async throws {
        try await Task.sleep(nanoseconds: UInt64(max(0, min(seconds, 3600)) * 1e9))
    }
}

/// How a beat runs; defaults are the command line's.
public struct BeatConfiguration: Sendable {
    /// Seconds the leader lease lasts unrenewed (`--lease`): a standby takes over within this long
    /// of the leader's death. At least 1.
    public var lease: Double = 10
    /// This replica's name in the lease (unique per process).
    public var owner: String
    /// Longest wait between passes: how soon a new schedule or a free lease is seen.
    public var maxWait: Double = 1

    /// A configuration for the replica named `owner`.
    public init(owner: String, lease: Double = 10) {
        self.owner = owner
        self.lease = lease
    }

    /// Seconds between passes at most: a third of the lease (renewed well before it runs out), ≤ `maxWait`.
    var passInterval: Double { max(0.05, min(maxWait, lease / 3)) }
}
