import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport

@Suite struct ProgressTests {
    /// `t.progress`: reports PROGRESS {"current": 1, "total": 2}, then waits for the gate, then returns "done".
    static func progressTask(gate: Locked<Bool>) -> TaskDefinition {
        TaskDefinition(name: "t.progress", parameters: []) { _, context in
            try await context.progress(["current": 1, "total": 2])
            while !gate.withLock({ $0 }) { try await Task.sleep(nanoseconds: 10_000_000) }
            return "done"
        }
    }

    @Test func progress_isShownAndStoredAsCelerysCustomState_andDoesNotEndALongPoll() async throws {
        let gate = Locked(false)
        let h = try await APIHarness(tasks: [Self.progressTask(gate: gate)])
        let accepted = try await h.post("/tasks", #"{"task": "t.progress"}"#)
        let id = try #require(accepted.json?["id"] as? String)
        let poll = Task { try await h.get("/tasks/\(id)?wait=30", timeout: 40) }
        var view: [String: Any]?
        let shown = await waitUntil(timeout: 30) {
            view = try? await h.get("/tasks/\(id)").json
            return view?["state"] as? String == "PROGRESS"
        }
        #expect(shown)
        let meta = view?["meta"] as? [String: Any]
        #expect(meta?["current"] as? Int == 1 && meta?["total"] as? Int == 2)
        #expect(view?["result"] is NSNull && view?["error"] is NSNull)
        #expect(view?["started_at"] is String)
        // As Python's update_state stores it: the meta as `result`, no date_done (not a ready state).
        let raw = try await h.redis.send(["GET", RedisArgument(KeySpace.resultKey(id))])
        let document = try #require(raw.bytes.flatMap { try? JSONValue.parse($0) }?.objectValue)
        #expect(document["status"] == "PROGRESS")
        #expect(document["result"] == ["current": 1, "total": 2])
        #expect(document["date_done"] == .null && document["traceback"] == .null && document["task_id"] == .string(id))
        // The progress publish did not answer the long poll: it is still parked, and ends with the result.
        #expect(await h.pollIsParked(on: id))
        gate.withLock { $0 = true }
        let final = try await poll.value
        #expect(final.json?["state"] as? String == "SUCCESS")
        #expect(final.json?["result"] as? String == "done")
        #expect(final.json?["meta"] == nil)
        await h.stop()
    }

    @Test func progress_refusesCelerysOwnStates() async throws {
        let context = TaskContext(id: "x", name: "t", retries: 0, queue: "celery", hostname: "h", logger: .init(label: "t"))
        await #expect(throws: RegistryError.self) { try await context.progress([:], state: .success) }
        #expect(TaskState(rawValue: "UPLOADING")?.isCustom == true && TaskState(rawValue: "UPLOADING")?.isReady == false)
        #expect(TaskState(rawValue: "") == nil)
        #expect(ResultDocument(bytes: Array(#"{"status": "UPLOADING", "result": {"n": 3}, "task_id": "a"}"#.utf8))?.result == ["n": 3])
    }
}
