import ArgumentParser
import Foundation

/// `celeriac <command>`: the same command line in every binary built on the `Celeriac` library.
struct CeleriacCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ProcessInfo.processInfo.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "celeriac",
        abstract: "A Celery-compatible task queue on Redis.",
        subcommands: [WorkerCommand.self, BeatCommand.self, APICommand.self, SubmitCommand.self, ResultCommand.self, DeadLettersCommand.self, RevokeCommand.self])
}

/// Options every command that talks to Redis shares; flags win over the environment.
struct BrokerOptions: ParsableArguments {
    @Option(name: [.customShort("b"), .long], help: "Redis URL (env REDIS_URL; default redis://127.0.0.1:6379/0).")
    var broker: String?

    @Option(help: "With a sentinel:// broker URL: the master's name, as kombu's master_name (env CELERIAC_SENTINEL_MASTER).")
    var sentinelMaster: String?

    @Option(help: "Replicas that must acknowledge each write (WAIT) before a 202, a stored result or an ack counts; 0 = the master's word (env CELERIAC_MIN_REPLICAS_ACK).")
    var minReplicasAck: Int?

    @Option(help: "Prefix of Celeriac's own keys (env CELERIAC_PREFIX).")
    var prefix: String?

    @Option(help: "Seconds results live in Redis: Celery's result_expires (env CELERIAC_RESULT_EXPIRES).")
    var resultExpires: Int?

    /// The broker URL, with `--sentinel-master` folded in as kombu's `master_name` parameter.
    var url: String {
        let url = broker ?? "redis://127.0.0.1:6379/0"
        guard let sentinelMaster, url.hasPrefix("sentinel://"), !url.contains("master_name=") else { return url }
        return url + (url.contains("?") ? "&" : "?") + "master_name=" + sentinelMaster
    }
    var keyPrefix: String { prefix ?? "celeriac:" }
    var expires: Int { resultExpires ?? 86400 }

    mutating func validate() throws {
        try Environment.fill(&broker, "REDIS_URL")
        try Environment.fill(&sentinelMaster, "CELERIAC_SENTINEL_MASTER")
        try Environment.fill(&minReplicasAck, "CELERIAC_MIN_REPLICAS_ACK")
        try Environment.check(minReplicasAck, 0...64, "--min-replicas-ack")
        try Environment.fill(&prefix, "CELERIAC_PREFIX")
        try Environment.fill(&resultExpires, "CELERIAC_RESULT_EXPIRES")
        do { try Broker.validate(url: url) } catch { throw ValidationError("\(error)") }
        try Environment.check(resultExpires, 0...Int(TimeBounds.maxSecondsAhead), "--result-expires")
    }
}

import TaskProtocol
import RedisClient
import TaskQueue

extension BrokerOptions {
    func makeBroker() throws -> (Broker, ResultBackend) {
        var configuration = try RedisConfiguration(url: url)
        configuration.minReplicasAck = minReplicasAck ?? 0
        let broker = Broker(redis: RedisClient(configuration: configuration), keys: KeySpace(prefix: keyPrefix), resultExpires: expires)
        return (broker, ResultBackend(sharing: broker))
    }
}
