import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport

/// `GET /tasks`: the task history over HTTP, against a real redis-server and a real worker.
@Suite struct TaskHistoryAPITests {
    func ids(_ h: APIHarness, _ query: String) async throws -> [String] {
        let response = try await h.get("/tasks?" + query)
        #expect(response.status == 200, "\(query): \(response.status)")
        let items = response.json?["items"] as? [[String: Any]] ?? []
        #expect(response.json?["count"] as? Int == items.count)
        return items.compactMap { $0["id"] as? String }
    }

    @Test func everyFilter_narrowsTheList_newestFirst() async throws {
        let h = try await APIHarness(allowUnknownTasks: true)
        var adds: [String] = []
        for k in 0..<3 { adds.append(try await h.submitAdd(k, 1)) }
        var others: [String] = []
        for _ in 0..<2 {
            let accepted = try await h.post("/tasks", #"{"task": "other.task", "queue": "elsewhere", "args": []}"#)
            others.append(try #require(accepted.json?["id"] as? String))
        }
        #expect(await waitUntil(timeout: 30) { (try? await ids(h, "state=SUCCESS").count) == 3 })
        let all = try await h.get("/tasks").json?["items"] as? [[String: Any]] ?? []
        #expect(Set(all.compactMap { $0["id"] as? String }) == Set(adds + others))
        let times = all.compactMap { $0["indexed_at"] as? String }
        #expect(times == times.sorted().reversed(), "newest first")
        let done = try #require(all.first { $0["id"] as? String == adds[0] })
        for key in ["task", "state", "queue", "worker", "submitted_at", "started_at", "finished_at", "runtime", "retries"] {
            #expect(done[key] != nil, "\(key)")
        }
        #expect(Set(try await ids(h, "state=SUCCESS")) == Set(adds))
        #expect(Set(try await ids(h, "state=PENDING")) == Set(others))
        #expect(Set(try await ids(h, "task=other.task")) == Set(others))
        #expect(Set(try await ids(h, "queue=elsewhere")) == Set(others))
        #expect(Set(try await ids(h, "worker=api-test%40host")) == Set(adds))
        #expect(Set(try await ids(h, "state=SUCCESS&task=celery_example_2.add&queue=celery")) == Set(adds))
        #expect(try await ids(h, "state=SUCCESS&task=other.task").isEmpty)
        #expect(try await ids(h, "q=" + String(others[1].dropFirst(4).prefix(12)).uppercased()) == [others[1]])
        let future = Int(Date().timeIntervalSince1970) + 3600
        #expect(try await ids(h, "since=\(future)").isEmpty)
        #expect(try await ids(h, "until=1970-01-02T00:00:00Z").isEmpty)
        #expect(Set(try await ids(h, "since=2020-01-01T00:00:00%2B00:00&until=\(future)")) == Set(adds + others))
        await h.stop()
    }

    @Test func pages_followTheCursor_withoutRepeatsOrGaps_whileTasksAreAdded() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        var submitted: [String] = []
        for k in 0..<7 { submitted.append(try await h.submitAdd(k, 0)) }
        var seen: [String] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let response = try await h.get("/tasks?limit=3" + (cursor.map { "&cursor=" + $0 } ?? ""))
            #expect(response.status == 200)
            let items = response.json?["items"] as? [[String: Any]] ?? []
            #expect(items.count <= 3)
            seen += items.compactMap { $0["id"] as? String }
            cursor = response.json?["next_cursor"] as? String
            if pages == 0 { for k in 0..<4 { _ = try await h.submitAdd(100 + k, 0) } }
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen.count == Set(seen).count, "no task twice")
        #expect(Set(seen) == Set(submitted), "every task submitted before the first page, none after")
        await h.stop()
    }

    @Test func badParameters_are422_namingTheParameter() async throws {
        let h = try await APIHarness(withWorker: false)
        for (query, field) in [("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"), ("state=DONE", "state"),
                               ("since=yesterday", "since"), ("until=1e999", "until"), ("cursor=bm9wZQ", "cursor"),
                               ("task=", "task"), ("q=", "q"), ("worker=", "worker")] {
            let response = try await h.get("/tasks?" + query)
            #expect(response.status == 422, "\(query)")
            #expect(response.json?["field"] as? String == field, "\(query)")
        }
        #expect(try await h.get("/tasks?limit=500").status == 200)
        await h.stop()
    }

    @Test func aTask_showsItsArgsAndKwargs_cutTo4KiB_andItsGroup() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let big = String(repeating: "é", count: 3000)
        let accepted = try await h.post("/tasks", #"{"task": "t.echo", "args": [1, "<b>"], "kwargs": {"text": "\#(big)"}}"#)
        let id = try #require(accepted.json?["id"] as? String)
        let task = try #require(try await h.get("/tasks/\(id)").json)
        #expect(task["args"] as? String == "(1, '<b>')")
        let kwargs = try #require(task["kwargs"] as? String)
        #expect(kwargs.hasPrefix("{'text': 'éé") && kwargs.hasSuffix("...") && kwargs.utf8.count <= TaskRecord.reprLimit)
        #expect(task["group"] is NSNull)
        let group = try await h.post("/groups", #"{"tasks": [{"task": "t.echo", "args": [2]}]}"#)
        let groupID = try #require(group.json?["id"] as? String)
        let member = try #require((group.json?["tasks"] as? [[String: Any]])?.first?["id"] as? String)
        #expect(try await h.get("/tasks/\(member)").json?["group"] as? String == groupID)
        await h.stop()
    }

    @Test func throughput_countsSuccessesAndFailuresPerMinute_oldestFirst() async throws {
        let h = try await APIHarness()
        let good = try await h.submitAdd(1, 2)
        let bad = try #require(try await h.post("/tasks", #"{"task": "celery_example_2.add", "args": [1, "x"]}"#).json?["id"] as? String)
        for id in [good, bad] {
            #expect(await waitUntil(timeout: 30) {
                ["SUCCESS", "FAILURE"].contains((try? await h.get("/tasks/\(id)").json?["state"] as? String) ?? "")
            })
        }
        let minutes = try #require(try await h.get("/throughput?minutes=3").json?["minutes"] as? [[String: Any]])
        #expect(minutes.count == 3)
        let starts = minutes.compactMap { $0["start"] as? String }
        #expect(starts == starts.sorted() && Set(starts).count == 3)
        #expect(minutes.reduce(0) { $0 + ($1["succeeded"] as? Int ?? 0) } == 1)
        #expect(minutes.reduce(0) { $0 + ($1["failed"] as? Int ?? 0) } == 1)
        #expect((try await h.get("/throughput").json?["minutes"] as? [Any])?.count == 60)
        for bad in ["0", "1441", "x"] {
            let response = try await h.get("/throughput?minutes=\(bad)")
            #expect(response.status == 422 && response.json?["field"] as? String == "minutes", "\(bad)")
        }
        await h.stop()
    }
}
