import ArgumentParser
import Dashboard
import Foundation
import HTTP2
import HTTPServer
import Logging
import ServiceLifecycle
import TaskAPI

/// `celeriac api`: the HTTP API on our own server (HTTP/1.1 and h2c on one port).
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Serve the task API over HTTP.")

    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var authOptions: AuthOptions

    @Option(help: "host:port to listen on (env CELERIAC_BIND; default 127.0.0.1:8080; [::]:8080 for IPv6).")
    var bind: String?

    @Option(help: "Event-loop threads (env CELERIAC_THREADS; default: one per core).")
    var threads: Int?

    @Flag(name: .customLong("no-http2"), help: "Serve HTTP/1.1 only: no h2c preface or Upgrade (env CELERIAC_HTTP2=0; HTTP/2 is on by default).")
    var noHTTP2 = false

    @Flag(help: "Accept task names no live worker has registered (env CELERIAC_ALLOW_UNKNOWN_TASKS=1).")
    var allowUnknownTasks = false

    @Option(help: "Base URL of the API as clients reach it, used in links (env CELERIAC_PUBLIC_URL).")
    var publicURL: String?

    @Option(name: [.customShort("l"), .long], help: "Log level: debug, info, warning, error, critical (env CELERIAC_LOGLEVEL; default info).")
    var loglevel: String?

    @Option(help: "Largest request body in bytes, 413 above it (env CELERIAC_MAX_BODY_BYTES; default 1048576).")
    var maxBodyBytes: Int?

    @Option(help: "Seconds to finish in-flight requests on SIGTERM (env CELERIAC_API_GRACE; default 10).")
    var grace: Double?

    var bindAddress: String { bind ?? "127.0.0.1:8080" }

    static func split(_ bind: String) -> (host: String, port: Int)? {
        var host: Substring
        var portText: Substring
        if bind.hasPrefix("[") {
            guard let close = bind.firstIndex(of: "]") else { return nil }
            host = bind[bind.index(after: bind.startIndex)..<close]
            portText = bind[bind.index(after: close)...].dropFirst()
        } else {
            guard let colon = bind.lastIndex(of: ":") else { return nil }
            host = bind[..<colon]
            portText = bind[bind.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (host.isEmpty ? "0.0.0.0" : String(host), port)
    }

    mutating func validate() throws {
        try Environment.fill(&bind, "CELERIAC_BIND")
        try Environment.fill(&threads, "CELERIAC_THREADS")
        try Environment.fill(&publicURL, "CELERIAC_PUBLIC_URL")
        try Environment.fill(&loglevel, "CELERIAC_LOGLEVEL")
        try Environment.fill(&maxBodyBytes, "CELERIAC_MAX_BODY_BYTES")
        try Environment.fill(&grace, "CELERIAC_API_GRACE")
        allowUnknownTasks = Environment.flag(allowUnknownTasks, "CELERIAC_ALLOW_UNKNOWN_TASKS")
        noHTTP2 = noHTTP2 || ["0", "false", "no", "off"].contains(ProcessInfo.processInfo.environment["CELERIAC_HTTP2"]?.lowercased() ?? "")
        if Self.split(bindAddress) == nil { throw ValidationError("--bind '\(bindAddress)' must be host:port") }
        if LogLevelName.parse(loglevel ?? "info") == nil { throw ValidationError("-l/--loglevel '\(loglevel ?? "")' is not a level") }
        try Environment.check(threads, 1...256, "--threads")
        try Environment.check(maxBodyBytes, 1...(1 << 30), "--max-body-bytes")
        try Environment.check(grace, 0...3_600, "--grace")
    }

    func run() async throws {
        let app = AppHolder.app
        try app.validate()
        let level = LogLevelName.parse(loglevel ?? "info")!
        let logger = Logger(label: "celeriac.api") { CeleryLogHandler(label: $0, level: level) }
        // From the very start: the first SIGTERM/SIGINT finishes in-flight requests (long polls end at
        // once), a second ends the process now. Before the server listens there is nothing to finish.
        let serving = Protected<(HTTPServer, TaskAPI, Double)?>(nil)
        let authentication = Protected<BearerAuth?>(nil)
        _ = SignalHandler(onHangup: { [authOptions] in
            if let auth = authentication.withLock({ $0 }) { authOptions.reload(auth, logger: logger) }
        }) { _, count in
            guard count == 1, let (server, api, grace) = serving.withLock({ $0 }) else { Glibc.exit(count == 1 ? 0 : 1) }
            logger.info("api: shutting down (finishing in-flight requests)")
            Task {
                await api.shutdown()
                await server.shutdown(grace: grace)
            }
        }
        MallocTuning.apply()
        MetricsBootstrap.bootstrap()
        let (broker, results) = try brokerOptions.makeBroker()
        let (host, port) = Self.split(bindAddress)!
        let auth = try authOptions.middleware(host: host, what: "api", logger: logger)
        authentication.withLock { $0 = auth }
        var apiConfiguration = TaskAPI.Configuration()
        apiConfiguration.metricsExposition = { MetricsBootstrap.exposition() }
        apiConfiguration.allowUnknownTasks = allowUnknownTasks
        apiConfiguration.uniqueFor = app.registry.definitions.compactMapValues { $0.options.uniqueFor }
        apiConfiguration.publicURL = publicURL ?? "http://localhost:8080"
        let api = TaskAPI(broker: broker, results: results, configuration: apiConfiguration, logger: logger,
                          appRoutes: app.routes + Dashboard.routes(auth: auth))
        var httpConfiguration = HTTPServer.Configuration(host: host, port: port, threads: threads)
        httpConfiguration.limits.maxBodyBytes = maxBodyBytes ?? 1 << 20
        let grace = grace ?? 10
        httpConfiguration.timeouts.shutdownGrace = grace
        let server = try HTTPServer(configuration: httpConfiguration, router: api.router(middleware: [RequestMetrics(buckets: MetricsBootstrap.durationBuckets)] + (auth.map { [$0] } ?? [])),
                                    logger: logger, sessions: noHTTP2 ? nil : HTTP2())
        try server.start()
        serving.withLock { $0 = (server, api, grace) }
        let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(server.port)"
        logger.info("Celeriac API listening on \(base) (redis \(broker.serverDescription)); dashboard at \(base)/")
        // A lifecycle group of one: it ends when the server has stopped (after a signal asked it to).
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)], logger: logger))
        try await group.run()
        broker.close()
        logger.info("api: stopped")
    }
}

import Glibc
