import ArgumentParser
import Beat
import Foundation
import Logging
import ServiceLifecycle
import TaskQueue

/// `celeriac beat`: Celery beat, safe to run as many replicas as wanted (one leads through a lease).
struct BeatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "beat", abstract: "Send periodic tasks when they are due (any number of replicas).")

    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var beatOptions: BeatOptions

    @Option(name: [.customShort("l"), .long], help: "Log level: debug, info, warning, error, critical (env CELERIAC_LOGLEVEL; default info).")
    var loglevel: String?

    mutating func validate() throws {
        try Environment.fill(&loglevel, "CELERIAC_LOGLEVEL")
        if LogLevelName.parse(loglevel ?? "info") == nil {
            throw ValidationError("-l/--loglevel '\(loglevel ?? "")' is not one of debug, info, warning, error, critical")
        }
    }

    func run() async throws {
        let app = AppHolder.app
        try app.validate()
        let level = LogLevelName.parse(loglevel ?? "info")!
        let logger = Logger(label: "celeriac.beat") { CeleryLogHandler(label: $0, level: level) }
        let (broker, _) = try brokerOptions.makeBroker()
        logger.info("beat: Connecting to \(broker.serverDescription)")
        let beat = beatOptions.makeBeat(app: app, broker: broker, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: beat, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The beat's flags, shared by `celeriac beat` and `worker -B`.
struct BeatOptions: ParsableArguments {
    @Option(help: "Seconds the beat leader lease lasts unrenewed: a standby takes over within this long of the leader's death (env CELERIAC_BEAT_LEASE; default 10).")
    var lease: Double?

    mutating func validate() throws {
        try Environment.fill(&lease, "CELERIAC_BEAT_LEASE")
        try Environment.check(lease, 1...3600, "--lease")
    }

    func makeBeat(app: App, broker: Broker, logger: Logger) -> Beat {
        let owner = "beat@\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        return Beat(broker: broker, configuration: BeatConfiguration(owner: owner, lease: lease ?? 10),
                    schedules: app.periodicSchedules, logger: logger)
    }
}
