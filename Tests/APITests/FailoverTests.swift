import Foundation
import HTTPServer
import Logging
import RedisClient
import TaskAPI
import TaskProtocol
import TaskQueue
import Testing
import TestSupport
import Worker

/// The API and a worker on a `sentinel://` broker while the primary is SIGKILLed and a replica promoted.
@Suite(.serialized) struct FailoverTests {
    @Test func killedPrimary_apiAnswers503NotFalse202s_readyzFollows_andTheWorkerKeepsItsHeldTask() async throws {
        // An outage of ~5 s, not ~1 s: on a loaded run this test's requests can be scheduled a second or
        // more apart, and the test must see the API answer the outage (503, /readyz 503) before it ends.
        let cluster = try SentinelCluster.start(downAfter: 4)
        defer { cluster.stop() }
        var redisConfiguration = try RedisConfiguration(url: cluster.url)
        redisConfiguration.commandTimeout = 1
        redisConfiguration.connectTimeout = 1
        let redis = RedisClient(configuration: redisConfiguration)
        defer { redis.close() }
        let broker = Broker(redis: redis)
        let results = ResultBackend(redis: redis)
        var logger = Logger(label: "test.failover")
        logger.logLevel = .critical
        let api = TaskAPI(broker: broker, results: results, configuration: TaskAPI.Configuration(), logger: logger)
        let http = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), router: api.router(), logger: logger)
        try http.start()
        let gate = Locked(false)
        var registry = TaskRegistry()
        try registry.register(TaskDefinition(name: "t.add", parameters: ["a", "b"]) { args, _ in .int(try args.int("a") + args.int("b")) })
        try registry.register(TaskDefinition(name: "t.gated", parameters: []) { _, _ in
            while !gate.withLock({ $0 }) { try await Task.sleep(nanoseconds: 10_000_000) }
            return .int(7)
        })
        var wc = WorkerConfiguration()
        wc.concurrency = 2
        wc.popTimeout = 0.2
        wc.nodeName = "failover-test@host"
        let worker = Worker(configuration: wc, registry: registry, broker: broker, results: results, logger: logger)
        Task { try await worker.run() }
        let port = http.port
        #expect(await waitUntil(timeout: 30) { (try? await broker.registeredTaskNames().contains("t.gated")) == true })
        func post(_ body: String) async throws -> TestHTTPResponse {
            try await HTTPTestClient.request(port: port, method: "POST", path: "/tasks",
                                             headers: [("Content-Type", "application/json")], body: body, timeout: 10)
        }
        func state(_ id: String) async -> String? {
            (try? await HTTPTestClient.request(port: port, method: "GET", path: "/tasks/\(id)"))?.json?["state"] as? String
        }

        // A task the worker holds across the failover, replicated before the kill.
        let held = try #require(try await post(#"{"task": "t.gated"}"#).json?["id"] as? String)
        #expect(await waitUntil(timeout: 30) { worker.active == 1 })
        #expect(try await redis.send(["WAIT", "2", "2000"]) == .integer(2))
        // /readyz is watched on its own, every 10 ms: the outage lasts about 2 s, and on a loaded machine
        // one submit-and-check round of the loop below can take that long and miss it.
        let notReady = Locked(false)
        let readiness = Task {
            while !Task.isCancelled, !notReady.withLock({ $0 }) {
                if (try? await HTTPTestClient.request(port: port, method: "GET", path: "/readyz"))?.status == 503 {
                    notReady.withLock { $0 = true }
                }
                try? await Task.sleep(nanoseconds: 10_000_000)
            }
        }
        defer { readiness.cancel() }
        cluster.servers[0].stop()

        var statuses: [Int: Int] = [:]
        var missingRetryAfter = 0
        var accepted: [String] = []
        let recovered = await waitUntil(timeout: 30, interval: 0.05) {
            let response = try? await post(#"{"task": "t.add", "args": [1, 2]}"#)
            let status = response?.status ?? -1
            statuses[status, default: 0] += 1
            if status == 503, response?.headers["retry-after"] == nil { missingRetryAfter += 1 }
            if status == 202, let id = response?.json?["id"] as? String { accepted.append(id) }
            let ready = (try? await HTTPTestClient.request(port: port, method: "GET", path: "/readyz"))?.status
            return notReady.withLock { $0 } && ready == 200 && status == 202
        }
        #expect(recovered, "statuses \(statuses); \(cluster.sentinels[0].log)")
        #expect(Set(statuses.keys).isSubset(of: [202, 503]), "only 202 or 503 during a failover: \(statuses)")
        #expect(missingRetryAfter == 0)
        #expect(notReady.withLock { $0 })
        // Each sentinel learns of the promotion on its own (the one asked first may lag the one that failed over).
        #expect(await waitUntil(timeout: 20, interval: 0.05) { cluster.masterPort() != cluster.servers[0].port },
                "the sentinels still name the killed primary")

        // Every 202 was a real one, and the held task finishes on the new master.
        gate.withLock { $0 = true }
        #expect(await waitUntil(timeout: 30, interval: 0.05) { await state(held) == "SUCCESS" })
        for id in accepted {
            #expect(await waitUntil(timeout: 30, interval: 0.05) { await state(id) == "SUCCESS" }, "task \(id) accepted but lost")
        }
        worker.requestShutdown()
        await http.shutdown(grace: 1)
    }

    @Test func minReplicasAck_withoutAReplica_submissionIs503WithRetryAfter_thenAcceptedOnceOneSyncs() async throws {
        let server = try RedisServer.start()
        defer { server.stop() }
        var redisConfiguration = try RedisConfiguration(url: server.url)
        redisConfiguration.minReplicasAck = 1
        redisConfiguration.replicaAckTimeoutMilliseconds = 200
        let redis = RedisClient(configuration: redisConfiguration)
        defer { redis.close() }
        let broker = Broker(redis: redis)
        var logger = Logger(label: "test.replica-ack")
        logger.logLevel = .critical
        var configuration = TaskAPI.Configuration()
        configuration.allowUnknownTasks = true
        let api = TaskAPI(broker: broker, results: ResultBackend(sharing: broker), configuration: configuration, logger: logger)
        let http = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), router: api.router(), logger: logger)
        try http.start()
        let body = #"{"task": "py.only", "args": []}"#
        let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "replica-ack-1")]
        let refused = try await HTTPTestClient.request(port: http.port, method: "POST", path: "/tasks", headers: headers, body: body)
        #expect(refused.status == 503)
        #expect(refused.headers["retry-after"] != nil)
        let replica = try RedisServer.start(extraArguments: ["--replicaof", "127.0.0.1", String(server.port)])
        defer { replica.stop() }
        // The client's retry with the same key is accepted once a replica has the write.
        #expect(await waitUntil(timeout: 15, interval: 0.1) {
            (try? await HTTPTestClient.request(port: http.port, method: "POST", path: "/tasks", headers: headers, body: body))?.status == 202
        })
        #expect(try rawCommand(port: replica.port, "LLEN celery\r\n").hasPrefix(":1"))
        await http.shutdown(grace: 1)
    }
}
