import ArgumentParser
import Foundation
import Glibc
import HTTPServer
import Logging
import ServiceLifecycle
import TaskProtocol
import TaskQueue
import Worker

/// `celeriac worker`: Celery's `celery -A app worker` flags, on a Swift worker.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run a worker node.")

    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var authOptions: AuthOptions

    @Option(help: "host:port of this worker's /metrics, /healthz and /readyz (env CELERIAC_METRICS_BIND; default: none).")
    var metricsBind: String?

    @Option(name: [.customShort("Q"), .long], help: "Comma-separated queues to consume, highest priority first (env CELERIAC_QUEUES; default celery).")
    var queues: String?

    @Option(name: [.customShort("c"), .long], help: "Tasks run at the same time (env CELERIAC_CONCURRENCY; default: number of CPUs).")
    var concurrency: Int?

    @Option(name: [.customShort("l"), .long], help: "Log level: debug, info, warning, error, critical (env CELERIAC_LOGLEVEL; default info).")
    var loglevel: String?

    @Option(name: [.customShort("n"), .long], help: "Node name; %h is the host name, %n its first label, %d the domain (env CELERIAC_HOSTNAME; default celery@%h).")
    var hostname: String?

    @Option(help: "Seconds a held message may go without renewal before it is handed back (kombu visibility_timeout; env CELERIAC_VISIBILITY_TIMEOUT; default 3600).")
    var visibilityTimeout: Double?

    @Option(help: "Seconds to let in-flight tasks finish on SIGTERM before handing them back (env CELERIAC_WORKER_GRACE; default 30).")
    var grace: Double?

    @Option(help: "Seconds this worker's hold on a task lasts without a heartbeat: a killed worker's tasks come back this long after (env CELERIAC_LEASE_TIMEOUT; default 30).")
    var leaseTimeout: Double?

    @Option(help: "Times a task's worker may die while running it before the task is dead-lettered as a poison pill (env CELERIAC_MAX_CRASHES; default 3).")
    var maxCrashes: Int?

    @Flag(name: [.customShort("E"), .customLong("task-events")], help: "Send task events, for monitors such as Flower; worker events are always sent (env CELERIAC_TASK_EVENTS=1).")
    var taskEvents = false

    @Flag(name: [.customShort("B"), .customLong("beat")], help: "Also run a beat in this process (periodic tasks; env CELERIAC_BEAT=1).")
    var embedBeat = false

    @OptionGroup var beatOptions: BeatOptions

    @Flag(help: "Print no banner (env CELERIAC_QUIET=1).")
    var quiet = false

    var level: String { loglevel ?? "info" }
    var queueNames: [String] {
        (queues ?? "celery").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    mutating func validate() throws {
        try Environment.fill(&queues, "CELERIAC_QUEUES")
        try Environment.fill(&concurrency, "CELERIAC_CONCURRENCY")
        try Environment.fill(&loglevel, "CELERIAC_LOGLEVEL")
        try Environment.fill(&hostname, "CELERIAC_HOSTNAME")
        try Environment.fill(&visibilityTimeout, "CELERIAC_VISIBILITY_TIMEOUT")
        try Environment.fill(&grace, "CELERIAC_WORKER_GRACE")
        try Environment.fill(&leaseTimeout, "CELERIAC_LEASE_TIMEOUT")
        try Environment.fill(&maxCrashes, "CELERIAC_MAX_CRASHES")
        try Environment.fill(&metricsBind, "CELERIAC_METRICS_BIND")
        if let metricsBind, APICommand.split(metricsBind) == nil { throw ValidationError("--metrics-bind '\(metricsBind)' must be host:port") }
        taskEvents = Environment.flag(taskEvents, "CELERIAC_TASK_EVENTS")
        quiet = Environment.flag(quiet, "CELERIAC_QUIET")
        embedBeat = Environment.flag(embedBeat, "CELERIAC_BEAT")
        try Environment.check(concurrency, 1...10_000, "-c/--concurrency")
        if LogLevelName.parse(level) == nil { throw ValidationError("-l/--loglevel '\(level)' is not one of debug, info, warning, error, critical") }
        if queueNames.isEmpty { throw ValidationError("-Q/--queues needs at least one queue") }
        try Environment.check(grace, 0...86_400, "--grace")
        try Environment.check(visibilityTimeout, 1...TimeBounds.maxSecondsAhead, "--visibility-timeout")
        // At least 3 s: heartbeats renew leases every 2 s.
        try Environment.check(leaseTimeout, 3...86_400, "--lease-timeout")
        try Environment.check(maxCrashes, 1...1_000, "--max-crashes")
    }

    func run() async throws {
        let app = AppHolder.app
        try app.validate()
        let level = LogLevelName.parse(self.level)!
        let logger = Logger(label: "celeriac.worker") { CeleryLogHandler(label: $0, level: level) }
        // Celery's signals, from the very start: the first SIGTERM/SIGINT is a warm shutdown, a second
        // one (or SIGQUIT) a cold one, a third ends the process at once. Before the worker exists
        // nothing is held: stopping then is simply exiting.
        let running = Protected<Worker?>(nil)
        let authentication = Protected<BearerAuth?>(nil)
        _ = SignalHandler(onHangup: { [authOptions] in
            if let auth = authentication.withLock({ $0 }) { authOptions.reload(auth, logger: logger) }
        }) { signal, count in
            guard let worker = running.withLock({ $0 }) else {
                logger.info("worker: stopped before it started")
                Glibc.exit(0)
            }
            if signal == SIGQUIT || count == 2 {
                logger.warning("worker: Cold shutdown (MainProcess)")
                worker.requestColdShutdown()
            } else if count == 1 {
                logger.info("worker: Hitting Ctrl+C again will terminate all running tasks!")
                worker.requestShutdown()
            } else {
                Glibc.exit(1)
            }
        }
        var configuration = WorkerConfiguration()
        configuration.queues = queueNames
        configuration.concurrency = concurrency ?? ProcessInfo.processInfo.activeProcessorCount
        configuration.nodeName = NodeName.expand(hostname ?? "celery@%h")
        configuration.visibilityTimeout = visibilityTimeout ?? 3600
        configuration.shutdownGrace = grace ?? 30
        configuration.leaseTimeout = leaseTimeout ?? 30
        configuration.maxCrashes = maxCrashes ?? 3
        configuration.sweepInterval = min(5, configuration.leaseTimeout / 3)
        configuration.sendTaskEvents = taskEvents
        configuration.softwareVersion = app.version
        // Before the broker and the worker exist: metric handles bind to the backend in force when made.
        if metricsBind != nil { MetricsBootstrap.bootstrap() }
        let (broker, results) = try brokerOptions.makeBroker()
        let redisURL = broker.serverDescription
        if !quiet { Banner.print(app: app, configuration: configuration, transport: redisURL) }
        // Connect before announcing readiness, so a wrong URL fails here and loudly.
        do { try await broker.ping() } catch {
            logger.critical("Cannot connect to \(redisURL): \(error)")
            throw ExitCode(1)
        }
        logger.info("Connected to \(redisURL)")
        let worker = Worker(configuration: configuration, registry: app.registry, broker: broker, results: results, logger: logger)
        running.withLock { $0 = worker }
        var endpoint: HTTPServer?
        if let metricsBind, let (host, port) = APICommand.split(metricsBind) {
            let auth = try authOptions.middleware(host: host, what: "worker /metrics", logger: logger)
            authentication.withLock { $0 = auth }
            let server = try WorkerEndpoint.server(host: host, port: port, worker: worker, auth: auth, logger: logger)
            try server.start()
            logger.info("Metrics and probes on http://\(host.contains(":") ? "[\(host)]" : host):\(server.port)")
            endpoint = server
        }
        // The group ends when the worker does (after a signal asked it to); `-B` adds a beat beside it.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)]
        if embedBeat {
            services.append(.init(service: beatOptions.makeBeat(app: app, broker: broker, logger: logger)))
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
        logger.info("\(configuration.nodeName) ready.")
        try await group.run()
        await endpoint?.shutdown(grace: 2)
    }
}

/// `-l` names, as Celery spells them.
enum LogLevelName {
    static func parse(_ text: String) -> Logger.Level? {
        switch text.lowercased() {
        case "debug": .debug
        case "info": .info
        case "warning", "warn": .warning
        case "error": .error
        case "critical", "fatal": .critical
        default: nil
        }
    }
}

/// Celery's node-name expansion: `%h` host name, `%n` its first label, `%d` the rest.
enum NodeName {
    static func expand(_ pattern: String) -> String {
        let host = ProcessInfo.processInfo.hostName
        let first = host.split(separator: ".").first.map(String.init) ?? host
        let domain = host.split(separator: ".").dropFirst().joined(separator: ".")
        return pattern.replacingOccurrences(of: "%h", with: host)
            .replacingOccurrences(of: "%n", with: first)
            .replacingOccurrences(of: "%d", with: domain)
    }
}

/// The start-up banner in Celery's shape, so operators find what they expect.
enum Banner {
    static func print(app: App, configuration: WorkerConfiguration, transport: String) {
        var uts = utsname()
        uname(&uts)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        let system = "\(field(uts.sysname))-\(field(uts.release))-\(field(uts.machine))"
        let now = String(CeleryLogHandler.timestamp().prefix(19))
        var lines = [
            " -------------- \(configuration.nodeName) v\(app.version) (celeriac)",
            "--- ***** ----- ",
            "-- ******* ---- \(system) \(now)",
            "- *** --- * --- ",
            "- ** ---------- [config]",
            "- ** ---------- .> app:         \(app.name)",
            "- ** ---------- .> transport:   \(transport)",
            "- ** ---------- .> results:     \(transport)",
            "- *** --- * --- .> concurrency: \(configuration.concurrency) (swift tasks)",
            "-- ******* ---- .> task events: \(configuration.sendTaskEvents ? "ON" : "OFF (enable -E to monitor tasks in this worker)")",
            "--- ***** ----- ",
            " -------------- [queues]",
        ]
        for queue in configuration.queues {
            lines.append("                .> \(queue.padding(toLength: 16, withPad: " ", startingAt: 0)) exchange=\(queue)(direct) key=\(queue)")
        }
        lines += ["                ", "", "[tasks]"]
        // As Celery's banner: the built-ins (`celery.*`) are not listed.
        lines += app.registry.names.filter { !$0.hasPrefix("celery.") }.map { "  . \($0)" }
        lines.append("")
        Swift.print(lines.joined(separator: "\n"))
        fflush(nil)
    }
}
