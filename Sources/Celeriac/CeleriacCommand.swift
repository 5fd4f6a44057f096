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

    @Option(help: "Prefix of Celeriac's own keys (env CELERIAC_PREFIX).")
    var prefix: String?

    @Option(help: "Seconds results live in Redis: Celery's result_expires (env CELERIAC_RESULT_EXPIRES).")
    var resultExpires: Int?

    var url: String { broker ?? "redis://127.0.0.1:6379/0" }
    var keyPrefix: String { prefix ?? "celeriac:" }
    var expires: Int { resultExpires ?? 86400 }

    mutating func validate() throws {
        try Environment.fill(&broker, "REDIS_URL")
        try Environment.fill(&prefix, "CELERIAC_PREFIX")
        try Environment.fill(&resultExpires, "CELERIAC_RESULT_EXPIRES")
        do { try Broker.validate(url: url) } catch { throw ValidationError("\(error)") }
        try Environment.check(resultExpires, 0...Int(TimeBounds.maxSecondsAhead), "--result-expires")
    }
}

import TaskProtocol
import TaskQueue

extension BrokerOptions {
    func makeBroker() throws -> (Broker, ResultBackend) {
        let broker = try Broker(url: url, keys: KeySpace(prefix: keyPrefix), resultExpires: expires)
        return (broker, ResultBackend(sharing: broker))
    }
}
