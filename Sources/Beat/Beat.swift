import Foundation
import Logging
import ServiceLifecycle
import TaskProtocol
import TaskQueue

/// Celery beat on a fenced leader lease: any number of replicas run, the one holding the lease in
/// Redis publishes due ticks, the others renew their bid every pass and take over within the lease
/// of the leader's death. Each tick (schedule + due time) is published at most once through its
/// claim, so a change of leader never sends it twice.
///
/// ```swift
/// let beat = Beat(broker: broker, configuration: BeatConfiguration(owner: "beat@host:42"), logger: logger)
/// try await beat.run()   // or in a ServiceGroup, next to a worker (`worker -B`)
/// ```
public actor Beat: Service {
    /// What one pass did with one due tick (for logs and tests).
    public struct Sent: Sendable, Equatable {
        /// The schedule's name.
        public var schedule: String
        /// The tick id (schedule@due-ms).
        public var tickID: String
        /// Published now, or found published already.
        public var outcome: TickOutcome
    }

    let broker: Broker
    let configuration: BeatConfiguration
    let clock: any BeatClock
    let logger: Logger
    let codeSchedules: [PeriodicSchedule]
    /// The lease token while this replica leads.
    var token: String?
    private(set) var invalidNames: Set<String> = []
    func markInvalid(_ name: String) { invalidNames.insert(name) }

    /// A beat publishing through `broker`; `schedules` (from code) are stored when it starts.
    public init(broker: Broker, configuration: BeatConfiguration, schedules: [PeriodicSchedule] = [],
                clock: any BeatClock = SystemBeatClock(), logger: Logger) {
        self.broker = broker
        self.configuration = configuration
        self.codeSchedules = schedules
        self.clock = clock
        self.logger = logger
    }

    /// True while this replica holds the lease.
    public var isLeader: Bool { token != nil }

    /// Stores the schedules defined in code (replacing stored ones of the same names).
    public func storeCodeSchedules() async throws {
        for schedule in codeSchedules {
            try await broker.saveSchedule(schedule.name, definition: schedule.json.serialized())
        }
    }

    /// Runs passes until the service group shuts down; gives the lease up when it stops.
    public func run() async throws {
        logger.info("beat: Starting...")
        // Stopping (a graceful shutdown cancels the loop) still gives the lease up below.
        try? await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                var wait = configuration.passInterval
                do {
                    try await storeCodeSchedules()
                    break
                } catch {
                    logger.warning("beat: cannot store schedules yet: \(error)")
                }
                try await clock.sleep(seconds: wait)
                wait = min(wait * 2, 5)
            }
            while !Task.isCancelled {
                var wait = configuration.passInterval
                do {
                    _ = try await pass(now: clock.now())
                    wait = await nextWait(now: clock.now())
                } catch {
                    logger.warning("beat: pass failed: \(error)")
                }
                try await clock.sleep(seconds: wait)
            }
        }
        if let token {
            try? await broker.releaseBeatLease(token: token)
            self.token = nil
        }
        logger.info("beat: stopped")
    }
}
