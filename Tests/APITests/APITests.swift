import Dashboard
import ExampleTasks
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

/// The API in-process on a real socket (port 0) in front of a real redis-server, with a real worker.
final class APIHarness: @unchecked Sendable {
    let server: RedisServer
    let redis: RedisClient
    let broker: Broker
    let http: HTTPServer
    let api: TaskAPI
    var worker: Worker?
    var port: Int { http.port }

    /// The example's settings the registration routes use (outbox under /tmp; tests shorten the limits).
    static func exampleSettings() -> ExampleTasks.Settings {
        ExampleTasks.Settings(outbox: URL(fileURLWithPath: NSTemporaryDirectory() + "celeriac-test-outbox"))
    }

    init(allowUnknownTasks: Bool = false, withWorker: Bool = true,
         settings: ExampleTasks.Settings = APIHarness.exampleSettings(), tasks: [TaskDefinition] = [],
         configure: (inout TaskAPI.Configuration) -> Void = { _ in }) async throws {
        server = try RedisServer.start()
        var redisConfiguration = try RedisConfiguration(url: server.url)
        redisConfiguration.commandTimeout = 1
        redisConfiguration.connectTimeout = 1
        redis = RedisClient(configuration: redisConfiguration)
        broker = Broker(redis: redis)
        let results = ResultBackend(redis: redis)
        var logger = Logger(label: "test.api")
        logger.logLevel = .critical
        var configuration = TaskAPI.Configuration()
        configuration.allowUnknownTasks = allowUnknownTasks
        configuration.uniqueFor = tasks.reduce(into: [:]) { $0[$1.name] = $1.options.uniqueFor }
        configure(&configuration)
        // As the shipped binary serves it: with the ExampleTasks' registration routes.
        api = TaskAPI(broker: broker, results: results, configuration: configuration, logger: logger,
                      appRoutes: Registration.routes(settings: settings))
        http = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), router: api.router(), logger: logger)
        try http.start()
        if withWorker {
            var registry = TaskRegistry()
            try registry.register(TaskDefinition(name: "celery_example_2.add", parameters: ["a", "b"]) { args, _ in
                .int(try args.int("a") + args.int("b"))
            })
            // A chord callback: the members' results come as one list.
            try registry.register(TaskDefinition(name: "celery_example_2.xsum", parameters: ["numbers"]) { args, _ in
                .int(try (args.value("numbers").arrayValue ?? []).reduce(0) { $0 + ($1.intValue ?? 0) })
            })
            for task in tasks { try registry.register(task) }
            var wc = WorkerConfiguration()
            wc.concurrency = 2
            wc.popTimeout = 0.2
            wc.nodeName = "api-test@host"
            let worker = Worker(configuration: wc, registry: registry, broker: broker, results: results, logger: logger)
            self.worker = worker
            Task { try await worker.run() }
            _ = await waitUntil(timeout: 30) { (try? await self.broker.registeredTaskNames().contains("celery_example_2.add")) == true }
        }
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = [("Content-Type", "application/json")]) async throws -> TestHTTPResponse {
        try await HTTPTestClient.request(port: port, method: "POST", path: path, headers: headers, body: body)
    }

    /// True once a long poll on `id` is subscribed to its result channel (where a worker publishes).
    func pollIsParked(on id: String) async -> Bool {
        await waitUntil(timeout: 30) {
            (try? await self.redis.send(["PUBSUB", "NUMSUB", RedisArgument(KeySpace.resultKey(id))]))?.array?.last == .integer(1)
        }
    }

    /// Submits an `add` task (nobody runs it unless the harness has a worker) and returns its id.
    func submitAdd(_ a: Int, _ b: Int) async throws -> String {
        let accepted = try await post("/tasks", #"{"task": "celery_example_2.add", "args": [\#(a), \#(b)]}"#)
        return try #require(accepted.json?["id"] as? String)
    }

    func get(_ path: String, headers: [(String, String)] = [], timeout: Double = 30) async throws -> TestHTTPResponse {
        try await HTTPTestClient.request(port: port, method: "GET", path: path, headers: headers, timeout: timeout)
    }

    func stop() async {
        worker?.requestShutdown()
        await http.shutdown(grace: 1)
        redis.close()
        server.stop()
    }
}

@Suite struct APITests {
    @Test func submit_thenPoll_reachesSuccessWithResult9() async throws {
        let h = try await APIHarness()
        let accepted = try await h.post("/tasks", #"{"task": "celery_example_2.add", "args": [4, 5], "kwargs": {}, "queue": "celery", "countdown": 0, "eta": null, "expires": null, "priority": null}"#)
        #expect(accepted.status == 202)
        let id = try #require(accepted.json?["id"] as? String)
        #expect(accepted.headers["location"] == "/tasks/\(id)")
        #expect(accepted.json?["state"] as? String == "PENDING")
        var last: [String: Any]?
        let done = await waitUntil(timeout: 30) {
            last = try? await h.get("/tasks/\(id)").json
            return last?["state"] as? String == "SUCCESS"
        }
        #expect(done)
        #expect(last?["result"] as? Int == 9)
        #expect(last?["worker"] as? String == "api-test@host")
        for key in ["submitted_at", "received_at", "started_at", "finished_at"] { #expect(last?[key] is String, "\(key)") }
        await h.stop()
    }

    @Test func longPoll_answersWhenTheResultIsPublished_notWhenTheWaitRunsOut() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let results = ResultBackend(redis: h.redis)
        // Several clients wait on each of several tasks; nobody runs them yet.
        var ids: [String] = []
        for i in 0..<3 { ids.append(try await h.submitAdd(i, 1)) }
        let start = Date()
        let polls = ids.flatMap { id in (0..<4).map { _ in Task { try await h.get("/tasks/\(id)?wait=30", timeout: 40) } } }
        // A worker (here: the result backend, as any Celery worker writes) finishes them.
        for (i, id) in ids.enumerated() {
            // Store only once the polls are parked on their subscriptions, or the test proves nothing.
            #expect(await h.pollIsParked(on: id))
            try await results.store(.success(taskID: id, result: .int(Int64(i + 1))))
        }
        for (index, poll) in polls.enumerated() {
            let response = try await poll.value
            #expect(response.status == 200)
            #expect(response.json?["state"] as? String == "SUCCESS")
            #expect(response.json?["result"] as? Int == index / 4 + 1)
        }
        #expect(Date().timeIntervalSince(start) < 20, "answered on publish, not after the 30 s wait")
        await h.stop()
    }

    @Test func longPolls_endAtOnceWhenTheAPIShutsDown() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let id = try await h.submitAdd(1, 1)
        let start = Date()
        let poll = Task { try await h.get("/tasks/\(id)?wait=30", timeout: 40) }
        #expect(await h.pollIsParked(on: id))
        await h.api.shutdown()
        let response = try await poll.value
        #expect(response.json?["state"] as? String == "PENDING")
        #expect(Date().timeIntervalSince(start) < 20, "not the 30 s wait")
        await h.stop()
    }

    @Test func longPoll_returnsTheCurrentStateWhenTheWaitRunsOut_andRejectsBadWaits() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let id = try await h.submitAdd(1, 1)
        let start = Date()
        let pending = try await h.get("/tasks/\(id)?wait=0.5")
        #expect(pending.status == 200)
        #expect(pending.json?["state"] as? String == "PENDING")
        #expect(Date().timeIntervalSince(start) >= 0.5)
        for bad in ["abc", "-1", "1000"] {
            let response = try await h.get("/tasks/\(id)?wait=\(bad)")
            #expect(response.status == 422, "wait=\(bad)")
            #expect(response.json?["field"] as? String == "wait")
        }
        // Nothing is left subscribed once the polls are over.
        #expect(await waitUntil(timeout: 30) {
            (try? await h.redis.send(["PUBSUB", "CHANNELS"]))?.array?.isEmpty == true
        })
        await h.stop()
    }

    @Test func workersAndQueues_showWhoRunsWhatAndWhatWaits() async throws {
        let h = try await APIHarness()  // a live worker on `celery`
        #expect(await waitUntil(timeout: 30) { (try? await h.get("/workers").json?["count"] as? Int) == 1 })
        let workers = try await h.get("/workers")
        let worker = try #require((workers.json?["items"] as? [[String: Any]])?.first)
        #expect(worker["name"] as? String == "api-test@host")
        #expect(worker["queues"] as? [String] == ["celery"])
        #expect((worker["tasks"] as? [String])?.contains("celery_example_2.add") == true)
        #expect(worker["concurrency"] as? Int == 2)
        // Nobody consumes `other`: what is sent there waits, and shows.
        for i in 0..<3 {
            let body = #"{"task": "celery_example_2.add", "args": [\#(i), 1], "queue": "other"}"#
            #expect(try await h.post("/tasks", body).status == 202)
        }
        let later = #"{"task": "celery_example_2.add", "args": [1, 1], "countdown": 3600}"#
        #expect(try await h.post("/tasks", later).status == 202)
        #expect(await waitUntil(timeout: 30) {
            (try? await h.get("/queues?queue=other").json?["scheduled"] as? Int) == 1
        })
        let queues = try await h.get("/queues?queue=other")
        let depths = Dictionary(uniqueKeysWithValues: ((queues.json?["queues"] as? [[String: Any]]) ?? []).compactMap { item in
            (item["name"] as? String).map { ($0, item["waiting"] as? Int ?? -1) }
        })
        #expect(depths == ["celery": 0, "other": 3])
        #expect(queues.json?["dead_letters"] as? Int == 0)
        #expect(try await h.get("/queues?queue=").status == 400)
        await h.stop()
    }

    @Test func idempotencyKey_makesARetriedSubmissionOneTask() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let body = #"{"task": "celery_example_2.add", "args": [2, 2]}"#
        let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "signup-42")]
        let first = try await h.post("/tasks", body, headers: headers)
        #expect(first.status == 202)
        #expect(first.headers["idempotent-replayed"] == nil)
        let id = try #require(first.json?["id"] as? String)
        // The client got no answer (say) and sends it again: same task, nothing new queued.
        let again = try await h.post("/tasks", body, headers: headers)
        #expect(again.status == 202)
        #expect(again.json?["id"] as? String == id)
        #expect(again.headers["location"] == "/tasks/\(id)")
        #expect(again.headers["idempotent-replayed"] == "true")
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
        // Another key, another task; a bad key is refused, naming the header.
        let other = try await h.post("/tasks", body, headers: [("Content-Type", "application/json"), ("Idempotency-Key", "signup-43")])
        #expect(other.json?["id"] as? String != id)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(2))
        let bad = try await h.post("/tasks", body, headers: [("Content-Type", "application/json"),
                                                             ("Idempotency-Key", String(repeating: "k", count: 201))])
        #expect(bad.status == 400)
        #expect(bad.json?["field"] as? String == "Idempotency-Key")
        await h.stop()
    }

    @Test func unknownID_is404_notPending() async throws {
        let h = try await APIHarness(withWorker: false)
        let response = try await h.get("/tasks/\(TaskMessage.newID())")
        #expect(response.status == 404)
        #expect(response.headers["content-type"] == "application/problem+json")
        #expect(response.json?["field"] as? String == "id")
        await h.stop()
    }

    @Test func taskKnownOnlyByItsCeleryResult_isShown() async throws {
        let h = try await APIHarness(withWorker: false)
        let id = TaskMessage.newID()
        try await ResultBackend(redis: h.redis).store(.failure(taskID: id, exception: ExceptionInfo(type: "ValueError", message: "bad"), traceback: "tb"))
        try await h.redis.send(["DEL", RedisArgument(h.broker.keys.taskRecord(id))])
        let response = try await h.get("/tasks/\(id)")
        #expect(response.status == 200)
        #expect(response.json?["state"] as? String == "FAILURE")
        #expect((response.json?["error"] as? [String: Any])?["type"] as? String == "ValueError")
        await h.stop()
    }

    static let badInputs: [(String, Int, String)] = [
        (#"{"task": "celery_example_2.add", "args": [1, 2]"#, 400, "body"),
        (#"[1, 2]"#, 422, "body"),
        (#"{"args": [1, 2]}"#, 422, "task"),
        (#"{"task": 5}"#, 422, "task"),
        (#"{"task": "celery_example_2.add", "args": {"a": 1}}"#, 422, "args"),
        (#"{"task": "celery_example_2.add", "kwargs": [1]}"#, 422, "kwargs"),
        (#"{"task": "celery_example_2.add", "priority": 12}"#, 422, "priority"),
        (#"{"task": "celery_example_2.add", "countdown": -1}"#, 422, "countdown"),
        (#"{"task": "celery_example_2.add", "eta": "tomorrow"}"#, 422, "eta"),
        (#"{"task": "celery_example_2.add", "expires": "soon"}"#, 422, "expires"),
        (#"{"task": "celery_example_2.add", "queue": ""}"#, 422, "queue"),
        (#"{"task": "celery_example_2.add", "colour": "blue"}"#, 422, "colour"),
        (#"{"task": "no.such.task"}"#, 422, "task"),
        (#""#, 400, "body"),
    ]

    @Test func badInput_getsProblemJSON_namingTheField() async throws {
        let h = try await APIHarness()
        for (body, status, field) in Self.badInputs {
            let response = try await h.post("/tasks", body)
            #expect(response.status == status, "\(body)")
            #expect(response.headers["content-type"] == "application/problem+json", "\(body)")
            #expect(response.json?["field"] as? String == field, "\(body) → \(response.text)")
        }
        let xml = try await h.post("/tasks", "<task/>", headers: [("Content-Type", "text/xml")])
        #expect(xml.status == 415)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0), "nothing was enqueued")
        await h.stop()
    }

    /// Issue 10: numbers that used to reach a trapping conversion (`Int(1e19)` in the date formatter)
    /// and kill the API with one request. Each is a 422 naming the field, and the API answers after them.
    static let hostileNumbers: [(String, String)] = [
        (#"{"task": "celery_example_2.add", "args": [1, 2], "expires": 1e19}"#, "expires"),
        (#"{"task": "celery_example_2.add", "args": [1, 2], "countdown": 1e300}"#, "countdown"),
        (#"{"task": "celery_example_2.add", "expires": 1.7976931348623157e308}"#, "expires"),
        (#"{"task": "celery_example_2.add", "expires": -1}"#, "expires"),
        (#"{"task": "celery_example_2.add", "expires": 0}"#, "expires"),
        (#"{"task": "celery_example_2.add", "countdown": 315360001}"#, "countdown"),
        (#"{"task": "celery_example_2.add", "countdown": 99999999999999999999999}"#, "countdown"),
        (#"{"task": "celery_example_2.add", "countdown": "5"}"#, "countdown"),
        (#"{"task": "celery_example_2.add", "eta": "9999-12-31T23:59:59+00:00"}"#, "eta"),
        (#"{"task": "celery_example_2.add", "expires": "9999-12-31T23:59:59Z"}"#, "expires"),
        (#"{"task": "celery_example_2.add", "priority": 99999999999999999999}"#, "priority"),
        (#"{"task": "celery_example_2.add", "priority": 1e300}"#, "priority"),
    ]

    @Test func hostileNumbers_areRejected_andTheAPIStaysUp() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        for (body, field) in Self.hostileNumbers {
            let response = try await h.post("/tasks", body)
            #expect(response.status == 422, "\(body) → \(response.text)")
            #expect(response.headers["content-type"] == "application/problem+json", "\(body)")
            #expect(response.json?["field"] as? String == field, "\(body) → \(response.text)")
        }
        for wait in ["1e300", "nan", "-1", "inf", "61"] {
            let response = try await h.get("/tasks/x?wait=\(wait)")
            #expect(response.status == 422, "wait=\(wait) → \(response.text)")
            #expect(response.json?["field"] as? String == "wait", "wait=\(wait)")
        }
        // An ETA long past is due at once, and a far (but in range) expiry is fine: both accepted.
        let past = try await h.post("/tasks", #"{"task": "celery_example_2.add", "args": [1, 2], "eta": "0001-01-01T00:00:00+00:00", "expires": 315360000}"#)
        #expect(past.status == 202, "\(past.text)")
        #expect(try await h.get("/healthz").status == 200)
        await h.stop()
    }

    @Test func oversizedBody_is413() async throws {
        let h = try await APIHarness(withWorker: false)
        let big = #"{"task": "x", "args": [""# + String(repeating: "a", count: 2 << 20) + #""]}"#
        let response = try await h.post("/tasks", big)
        #expect(response.status == 413)
        await h.stop()
    }

    @Test func allowUnknownTasks_acceptsAnyName() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let response = try await h.post("/tasks", #"{"task": "python.only.task", "args": []}"#)
        #expect(response.status == 202)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
        await h.stop()
    }

    @Test func register_answersAtOnce_thenARepeatWithinTheResendIntervalIs429() async throws {
        let h = try await APIHarness(withWorker: false)
        // (Its latency is measured end to end against the real processes, in Tests/interop.)
        let created = try await h.post("/register", #"{"email": "new@example.com"}"#)
        #expect(created.status == 201)
        let taskID = try #require(created.json?["activation_task_id"] as? String)
        let queued = try await h.redis.send(["LRANGE", "celery", "0", "-1"]).array ?? []
        #expect(queued.count == 1)
        let message = try TaskMessage.decode(try #require(queued.first?.bytes))
        #expect(message.task == "send_activation_email")
        #expect(message.id == taskID)
        #expect(message.args.first == "new@example.com")
        // A pending address may get a new email, but not within the resend interval (default 60 s).
        let again = try await h.post("/register", #"{"email": "NEW@example.com"}"#)
        #expect(again.status == 429)
        #expect(again.json?["field"] as? String == "email")
        #expect(Int(again.headers["retry-after"] ?? "") ?? 0 > 0)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
        let bad = try await h.post("/register", #"{"email": "not-an-email"}"#)
        #expect(bad.status == 422)
        #expect(bad.json?["field"] as? String == "email")
        await h.stop()
    }

    @Test func redisDown_is503WithRetryAfter_neverAFalse202() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        #expect(try await h.get("/readyz").status == 200)
        h.server.stop()
        let start = Date()
        let submit = try await h.post("/tasks", #"{"task": "celery_example_2.add", "args": [1, 2]}"#)
        #expect(submit.status == 503)
        #expect(submit.headers["retry-after"] != nil)
        #expect(try await h.get("/readyz").status == 503)
        #expect(try await h.get("/healthz").status == 200)
        #expect(Date().timeIntervalSince(start) < 25, "fails fast instead of hanging")
        await h.stop()
    }

    @Test func revoke_isAPostThatKeepsTheTaskReadable_andIsIdempotent() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let id = try await h.submitAdd(1, 2)
        let revoked = try await h.post("/tasks/\(id)/revoke", "")
        #expect(revoked.status == 202)
        #expect(revoked.json?["state"] as? String == "REVOKED")
        #expect(try await h.get("/tasks/\(id)").json?["state"] as? String == "REVOKED")
        #expect(try await h.post("/tasks/\(id)/revoke", "").status == 202, "revoking again answers the same")
        #expect(try await h.post("/tasks/never-submitted/revoke", "").status == 404)
        // Every id the spec allows (printable ASCII, no space) reaches the lookup instead of a 400.
        #expect(try await h.post("/tasks/%21~%3F%23/revoke", "").status == 404)
        #expect(try await h.post("/tasks/a%20b/revoke", "").status == 400)
        let delete = try await HTTPTestClient.request(port: h.port, method: "DELETE", path: "/tasks/\(id)")
        #expect(delete.status == 405)
        await h.stop()
    }

    @Test func idempotentReplay_answersWithTheFirstTasksStateNow() async throws {
        let h = try await APIHarness()
        let body = #"{"task": "celery_example_2.add", "args": [2, 2]}"#
        let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "replay-1")]
        let id = try #require(try await h.post("/tasks", body, headers: headers).json?["id"] as? String)
        #expect(await waitUntil(timeout: 30) { (try? await h.get("/tasks/\(id)").json?["state"] as? String) == "SUCCESS" })
        let again = try await h.post("/tasks", body, headers: headers)
        #expect(again.status == 202)
        #expect(again.json?["id"] as? String == id)
        #expect(again.json?["state"] as? String == "SUCCESS", "openapi.yaml's TaskAccepted.state allows every state for this")
        await h.stop()
    }

    @Test func revoke_ofAFinishedTask_is409() async throws {
        let h = try await APIHarness()
        let id = try await h.submitAdd(1, 2)
        #expect(await waitUntil(timeout: 30) { (try? await h.get("/tasks/\(id)").json?["state"] as? String) == "SUCCESS" })
        let conflict = try await h.post("/tasks/\(id)/revoke", "")
        #expect(conflict.status == 409)
        #expect(conflict.json?["field"] as? String == "id")
        await h.stop()
    }

    @Test func submit_takesJSONSchemaIntegers_andCountsLengthsInCodePoints() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        #expect(try await h.post("/tasks", #"{"task": "t", "priority": 8.0}"#).status == 202)
        #expect(try await h.post("/tasks", #"{"task": "t", "priority": 8.5}"#).status == 422)
        // 200 letters, each with a combining mark: 200 characters but 400 code points (JSON Schema's count).
        let long = String(repeating: "e\u{301}", count: 200)
        #expect(try await h.post("/tasks", #"{"task": "\#(long)"}"#).status == 422)
        await h.stop()
    }

    @Test func everyRoute_declaresItsScope_asTheSpecSays_andOnlyTheProbesAndTheActivationLinkAreOpen() throws {
        let spec = try String(contentsOf: RepoPaths.root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        var specScopes: [String: String] = [:]
        var path = "", method = ""
        for line in spec.components(separatedBy: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
            if let verb = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) { method = verb.uppercased() }
            if line.hasPrefix("      security: ") {
                let value = line.dropFirst("      security: ".count)
                specScopes["\(method) \(path)"] = value == "[]" ? "open"
                    : value.components(separatedBy: "[").dropFirst(2).first?.components(separatedBy: "]").first.map { "scope \($0)" }
            }
        }
        let api = TaskAPI(broker: Broker(redis: RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1/0"))),
                          results: ResultBackend(redis: RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1/0"))),
                          logger: Logger(label: "x"),
                          appRoutes: Registration.routes(settings: APIHarness.exampleSettings()) + Dashboard.routes(auth: nil))
        for route in api.routes {
            let access = api.access(route.method, route.path)
            #expect(specScopes["\(route.method.rawValue) \(route.path)"] == access.description, "\(route.method) \(route.path)")
            // The probes, the emailed activation link (its single-use token is the credential), and the
            // dashboard's page and assets (they hold no data; the page's data calls carry the token).
            #expect(access.isOpen == ["/healthz", "/readyz", "/activate/{token}", "/", "/assets/{name}"].contains(route.path))
        }
        #expect(api.access(.post, "/tasks") == .submit && api.access(.delete, "/tasks/{id}") == .admin)
        #expect(api.access(.post, "/an/undeclared/route") == .admin, "an undeclared route is never open")
    }

    @Test func routesInCode_matchPathsInOpenAPISpec() throws {
        let spec = try String(contentsOf: RepoPaths.root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        var specRoutes: Set<String> = []
        var currentPath: String?
        var inPaths = false
        for line in spec.components(separatedBy: "\n") {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, !line.hasPrefix(" "), !line.isEmpty { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if let path = currentPath, line.hasPrefix("    "), !line.hasPrefix("     "),
                      let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) {
                specRoutes.insert("\(method.uppercased()) \(path)")
            }
        }
        let api = TaskAPI(broker: Broker(redis: RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1/0"))),
                          results: ResultBackend(redis: RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1/0"))),
                          logger: Logger(label: "x"),
                          appRoutes: Registration.routes(settings: APIHarness.exampleSettings()) + Dashboard.routes(auth: nil))
        let codeRoutes = Set(api.routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(!specRoutes.isEmpty)
        #expect(codeRoutes == specRoutes)
    }
}

@Suite struct ExampleTaskTests {
    @Test func add_followsPythonsPlus() throws {
        #expect(try ExampleTasks.addForTests(4, 5) == 9)
        #expect(try ExampleTasks.addForTests(1.5, 2) == 3.5)
        #expect(try ExampleTasks.addForTests("a", "b") == "ab")
        #expect(try ExampleTasks.addForTests([1], [2]) == [1, 2])
        #expect(try ExampleTasks.addForTests(true, 1) == 2)
        #expect(throws: ExceptionInfo.self) { try ExampleTasks.addForTests("a", 1) }
    }

    @Test func add_ofIntsIsExactAtAnySize() throws {
        func big(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }
        #expect(try ExampleTasks.addForTests(.int(.max), 1) == big("9223372036854775808"))
        #expect(try ExampleTasks.addForTests(big("100000000000000000000000000000"), 1) == big("100000000000000000000000000001"))
        #expect(try ExampleTasks.addForTests(big("-100000000000000000000000000000"), big("99999999999999999999999999999")) == -1)
        #expect(try ExampleTasks.addForTests(big("18446744073709551616"), .int(.min)) == big("9223372036854775808"))
        #expect(try ExampleTasks.addForTests(.int(.min), -1) == big("-9223372036854775809"))
        #expect(try ExampleTasks.addForTests(big("18446744073709551616"), 0.5) == .double(18446744073709551616.5))
    }
}
