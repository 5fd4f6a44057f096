import Foundation
import RedisClient
import Testing
import TaskProtocol
import TestSupport
@testable import TaskQueue

/// Which writes `--min-replicas-ack` waits for: every one a loss would lose a task by, not the bookkeeping.
@Suite struct ReplicaAckScriptTests {
    @Test func withNoReplica_aFetchAndItsRecordMarksGoOn_butTheSubmissionAndTheCompletionAreUnconfirmed() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        var configuration = try RedisConfiguration(url: server.url)
        configuration.minReplicasAck = 1
        configuration.replicaAckTimeoutMilliseconds = 100
        let redis = RedisClient(configuration: configuration)
        defer { redis.close() }
        let broker = Broker(redis: redis)
        let results = ResultBackend(redis: redis)
        let message = TaskMessage.make(task: "t", args: [], kwargs: [:])
        await #expect { try await broker.enqueue(message) } throws: { "\($0)".contains("NOREPLICAS") }
        // The unconfirmed submission is on the master; fetching it (and marking its record) waits for no replica.
        let fetched = try await broker.fetch(lists: ["celery"], leaseToken: "w|1", count: 1, worker: "w@h")
        let tag = try #require(fetched.first?.tag)
        #expect(try await broker.record(message.id)?.state == .started)
        let completion = ResultBackend.Completion(.success(taskID: message.id, result: 1), ackTag: tag, leaseToken: "w|1")
        await #expect { try await results.store(batch: [completion]) } throws: { "\($0)".contains("NOREPLICAS") }
    }
}
