import Foundation
import RedisClient
import TaskAPI
import TaskProtocol
import TaskQueue
import Testing
import TestSupport

/// `POST /groups`, `GET /groups/{id}`, `POST /groups/{id}/revoke` and `POST /chains`, live.
@Suite struct GroupAPITests {
    static func adds(_ pairs: [(Int, Int)]) -> String {
        pairs.map { #"{"task": "celery_example_2.add", "args": [\#($0.0), \#($0.1)]}"# }.joined(separator: ", ")
    }

    @Test func aGroup_runsEveryMember_andItsStatusListsTheResultsInMemberOrder() async throws {
        let h = try await APIHarness()
        let accepted = try await h.post("/groups", #"{"tasks": [\#(Self.adds((0..<5).map { ($0, 10) }))]}"#)
        #expect(accepted.status == 202)
        let id = try #require(accepted.json?["id"] as? String)
        #expect(accepted.headers["location"] == "/groups/\(id)")
        #expect(accepted.json?["status_url"] as? String == "/groups/\(id)")
        #expect(accepted.json?["size"] as? Int == 5)
        let memberIDs = (accepted.json?["tasks"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(memberIDs.count == 5)
        #expect(accepted.json?["callback"] is NSNull)
        let done = try await h.get("/groups/\(id)?wait=10", timeout: 20)
        #expect(done.status == 200)
        let json = try #require(done.json)
        #expect(json["state"] as? String == "SUCCESS")
        #expect(json["results"] as? [Int] == [10, 11, 12, 13, 14])
        #expect(json["completed"] as? Int == 5)
        #expect(json["successful"] as? Int == 5)
        #expect(json["failed"] as? Int == 0)
        #expect((json["tasks"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == memberIDs)
        #expect((json["tasks"] as? [[String: Any]])?.allSatisfy { $0["state"] as? String == "SUCCESS" } == true)
        // Each member is an ordinary task too.
        #expect(try await h.get("/tasks/\(memberIDs[2])").json?["result"] as? Int == 12)
        await h.stop()
    }

    @Test func aChord_sendsItsCallbackTheListOfResults() async throws {
        let h = try await APIHarness()
        let body = #"{"tasks": [\#(Self.adds([(1, 1), (2, 2), (3, 3)]))], "callback": {"task": "celery_example_2.xsum"}}"#
        let accepted = try await h.post("/groups", body)
        #expect(accepted.status == 202)
        let id = try #require(accepted.json?["id"] as? String)
        let callbackID = try #require((accepted.json?["callback"] as? [String: Any])?["id"] as? String)
        let done = try #require(try await h.get("/groups/\(id)?wait=10", timeout: 20).json)
        #expect(done["state"] as? String == "SUCCESS")
        let callback = done["callback"] as? [String: Any]
        #expect(callback?["id"] as? String == callbackID)
        #expect(callback?["state"] as? String == "SUCCESS")
        #expect(callback?["result"] as? Int == 12)
        #expect(try await h.get("/tasks/\(callbackID)").json?["result"] as? Int == 12)
        await h.stop()
    }

    @Test func aChordWithAFailingMember_failsItsCallbackWithChordError() async throws {
        let h = try await APIHarness()
        let body = #"{"tasks": [\#(Self.adds([(1, 1)])), {"task": "celery_example_2.add", "args": [1, "x"]}], "callback": {"task": "celery_example_2.xsum"}}"#
        let id = try #require(try await h.post("/groups", body).json?["id"] as? String)
        let done = try #require(try await h.get("/groups/\(id)?wait=10", timeout: 20).json)
        #expect(done["state"] as? String == "FAILURE")
        #expect(done["failed"] as? Int == 1)
        #expect(done["successful"] as? Int == 1)
        #expect((done["results"] as? [Any])?.last is NSNull)
        let failed = (done["tasks"] as? [[String: Any]])?.last
        #expect((failed?["error"] as? [String: Any])?["type"] as? String == "TypeError")
        let callback = done["callback"] as? [String: Any]
        #expect(callback?["state"] as? String == "FAILURE")
        #expect((callback?["error"] as? [String: Any])?["type"] as? String == "ChordError")
        await h.stop()
    }

    @Test func aBadMember_isA422NamingIt_andNothingIsQueued() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let good = #"{"task": "celery_example_2.add", "args": [1, 2]}"#
        let cases: [(String, String)] = [
            (#"{"tasks": [\#(good), \#(good), \#(good), {"task": "t", "args": 5}]}"#, "tasks[3].args"),
            (#"{"tasks": [\#(good), {"args": [1]}]}"#, "tasks[1].task"),
            (#"{"tasks": [{"task": "t", "bogus": 1}]}"#, "tasks[0].bogus"),
            (#"{"tasks": [{"task": "t", "priority": 11}]}"#, "tasks[0].priority"),
            (#"{"tasks": [{"task": "t", "countdown": 1e300}]}"#, "tasks[0].countdown"),
            (#"{"tasks": [7]}"#, "tasks[0]"),
            (#"{"tasks": []}"#, "tasks"),
            (#"{"tasks": {"task": "t"}}"#, "tasks"),
            (#"{}"#, "tasks"),
            (#"{"tasks": [\#(good)], "extra": 1}"#, "extra"),
            (#"{"tasks": [\#(good)], "callback": {"task": "t", "countdown": 5}}"#, "callback.countdown"),
            (#"{"tasks": [\#(good)], "callback": {"task": ""}}"#, "callback.task"),
            (#"{"tasks": [\#(good)], "callback": [1]}"#, "callback"),
        ]
        for (body, field) in cases {
            let response = try await h.post("/groups", body)
            #expect(response.status == 422, "\(body)")
            #expect(response.json?["field"] as? String == field, "\(body): \(response.text)")
        }
        // The member limit (10,000 by default) and the server's body limit (1 MiB).
        let tooMany = #"{"tasks": [\#(Array(repeating: #"{"task": "t"}"#, count: 10_001).joined(separator: ","))]}"#
        let many = try await h.post("/groups", tooMany)
        #expect(many.status == 422)
        #expect(many.json?["field"] as? String == "tasks")
        #expect(many.text.contains("10000"))
        let huge = #"{"tasks": [{"task": "t", "args": ["\#(String(repeating: "x", count: 1 << 20))"]}]}"#
        #expect(try await h.post("/groups", huge).status == 413)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(0))
        #expect(try await h.redis.send(["KEYS", "celery-taskset-meta-*"]).array?.isEmpty == true)
        await h.stop()
    }

    /// Found by Schemathesis: `"callback": null` (the spec allows it) was refused, as `nil` became JSON null.
    @Test func aNullCallback_isAPlainGroup() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let accepted = try await h.post("/groups", #"{"tasks": [{"task": "t", "args": [1]}], "callback": null}"#)
        #expect(accepted.status == 202, "\(accepted.text)")
        #expect(accepted.json?["callback"] is NSNull)
        await h.stop()
    }

    @Test func aGroupOfUnregisteredTasks_isA422() async throws {
        let h = try await APIHarness()
        let response = try await h.post("/groups", #"{"tasks": [\#(Self.adds([(1, 1)])), {"task": "nobody.has.this"}]}"#)
        #expect(response.status == 422)
        #expect(response.text.contains("nobody.has.this"))
        await h.stop()
    }

    @Test func theSameIdempotencyKey_answersWithTheFirstGroup_andQueuesNothingNew() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let body = #"{"tasks": [\#(Self.adds([(1, 1), (2, 2)]))]}"#
        let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "order-42")]
        let first = try await h.post("/groups", body, headers: headers)
        let second = try await h.post("/groups", body, headers: headers)
        #expect(first.status == 202 && second.status == 202)
        #expect(first.json?["id"] as? String == second.json?["id"] as? String)
        #expect(second.headers["idempotent-replayed"] == "true")
        #expect((second.json?["tasks"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
                == (first.json?["tasks"] as? [[String: Any]])?.compactMap { $0["id"] as? String })
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(2))
        await h.stop()
    }

    @Test func revoke_revokesEveryUnfinishedMember_andUnknownGroupsAre404() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let accepted = try await h.post("/groups", #"{"tasks": [\#(Self.adds([(1, 1), (2, 2), (3, 3)]))]}"#)
        let id = try #require(accepted.json?["id"] as? String)
        let first = try #require((accepted.json?["tasks"] as? [[String: Any]])?.first?["id"] as? String)
        try await ResultBackend(redis: h.redis).store(.success(taskID: first, result: 2))
        let revoked = try await h.post("/groups/\(id)/revoke", "")
        #expect(revoked.status == 202)
        #expect((revoked.json?["revoked"] as? [String])?.count == 2)
        #expect(revoked.json?["already_finished"] as? Int == 1)
        let status = try #require(try await h.get("/groups/\(id)").json)
        #expect(status["state"] as? String == "REVOKED")
        #expect(status["completed"] as? Int == 3)
        #expect(status["failed"] as? Int == 2)
        #expect(status["results"] as? [Any?] != nil)
        #expect(try await h.get("/groups/nope").status == 404)
        #expect(try await h.post("/groups/nope/revoke", "").status == 404)
        #expect(try await h.get("/groups/\(id)?wait=abc").status == 422)
        await h.stop()
    }

    @Test func aGroupPythonSaved_isReadLikeOneSubmittedHere() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        // As Celery 5.7's `GroupResult.save()` writes it (JSON serializer), members run by anyone.
        let saved = #"{"result": [["py-group", null], [[["py-a", null], null], [["py-b", null], null]]]}"#
        try await h.redis.send(["SET", "celery-taskset-meta-py-group", RedisArgument(saved)])
        let results = ResultBackend(redis: h.redis)
        try await results.store(.success(taskID: "py-a", result: 1))
        let partial = try #require(try await h.get("/groups/py-group").json)
        #expect(partial["state"] as? String == "STARTED")
        #expect(partial["completed"] as? Int == 1)
        #expect((partial["tasks"] as? [[String: Any]])?.last?["state"] as? String == "PENDING")
        // A long poll answers when the last member's result is published, not when the wait runs out.
        let start = Date()
        let poll = Task { try await h.get("/groups/py-group?wait=30", timeout: 40) }
        #expect(await h.pollIsParked(on: "py-b"))
        try await results.store(.success(taskID: "py-b", result: 2))
        let done = try #require(try await poll.value.json)
        #expect(done["state"] as? String == "SUCCESS")
        #expect(done["results"] as? [Int] == [1, 2])
        #expect(done["callback"] is NSNull)
        #expect(Date().timeIntervalSince(start) < 20)
        await h.stop()
    }

    @Test func aChain_passesEachResultToTheNextTask_andItsStatusURLFollowsTheLast() async throws {
        let h = try await APIHarness()
        let body = #"{"tasks": [{"task": "celery_example_2.add", "args": [1, 2]}, {"task": "celery_example_2.add", "args": [10]}, {"task": "celery_example_2.add", "args": [100]}]}"#
        let accepted = try await h.post("/chains", body)
        #expect(accepted.status == 202)
        let ids = try #require(accepted.json?["task_ids"] as? [String])
        #expect(ids.count == 3)
        #expect(accepted.json?["id"] as? String == ids[2])
        #expect(accepted.json?["status_url"] as? String == "/tasks/\(ids[2])")
        #expect(accepted.headers["location"] == "/tasks/\(ids[2])")
        // The last step answers at once (PENDING), long before a worker sends it.
        #expect(try await h.get("/tasks/\(ids[2])").status == 200)
        let done = try #require(try await h.get("/tasks/\(ids[2])?wait=10", timeout: 20).json)
        #expect(done["state"] as? String == "SUCCESS")
        #expect(done["result"] as? Int == 113)
        #expect(try await h.get("/tasks/\(ids[1])").json?["result"] as? Int == 13)
        await h.stop()
    }

    @Test func aChainsLaterStep_cannotBeDelayed_andBadStepsNameTheirField() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let cases: [(String, String)] = [
            (#"{"tasks": [{"task": "a", "countdown": 5}, {"task": "b", "countdown": 5}]}"#, "tasks[1].countdown"),
            (#"{"tasks": [{"task": "a"}, {"task": "b", "expires": 5}]}"#, "tasks[1].expires"),
            (#"{"tasks": [{"task": "a"}, {"task": "b", "kwargs": []}]}"#, "tasks[1].kwargs"),
            (#"{"tasks": []}"#, "tasks"),
            (#"{"tasks": [{"task": "a"}], "callback": {"task": "b"}}"#, "callback"),
        ]
        for (body, field) in cases {
            let response = try await h.post("/chains", body)
            #expect(response.status == 422, "\(body)")
            #expect(response.json?["field"] as? String == field, "\(body): \(response.text)")
        }
        // The first step may be delayed; a repeat with the same key queues nothing new.
        let headers = [("Content-Type", "application/json"), ("Idempotency-Key", "chain-1")]
        let body = #"{"tasks": [{"task": "a", "countdown": 0}, {"task": "b"}]}"#
        let first = try await h.post("/chains", body, headers: headers)
        let second = try await h.post("/chains", body, headers: headers)
        #expect(first.status == 202)
        #expect(second.json?["task_ids"] as? [String] == first.json?["task_ids"] as? [String])
        #expect(second.headers["idempotent-replayed"] == "true")
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
        await h.stop()
    }
}
