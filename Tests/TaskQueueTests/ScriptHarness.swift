import Foundation
import RedisClient
@testable import TaskQueue
import TaskProtocol
import TestSupport

/// A real redis-server on a free port, with a broker and a result backend on it.
final class ScriptHarness: @unchecked Sendable {
    let server: RedisServer
    let redis: RedisClient
    let broker: Broker
    let results: ResultBackend

    init() throws {
        server = try RedisServer.start()
        redis = RedisClient(configuration: try RedisConfiguration(url: server.url))
        broker = Broker(redis: redis)
        results = ResultBackend(sharing: broker)
    }

    deinit {
        redis.close()
        server.stop()
    }

    /// Runs a Redis command for a test's setup or check.
    @discardableResult
    func run(_ command: [RedisArgument]) async throws -> RESPValue { try await redis.send(command) }

    /// Every key and its value, as one comparable dump: "did this write anything?".
    func snapshot() async throws -> [String: String] {
        var out: [String: String] = [:]
        for key in (try await run(["KEYS", "*"]).array ?? []).compactMap(\.string) {
            out[key] = "\(try await run(["DUMP", RedisArgument(key)]))"
        }
        return out
    }

    /// The message under `tag` as fetched and held with `token`.
    func fetchOne(_ message: TaskMessage, token: String) async throws -> Broker.Fetched? {
        try await broker.enqueue(message)
        return try await broker.fetch(lists: ["celery"], leaseToken: token).first
    }
}
