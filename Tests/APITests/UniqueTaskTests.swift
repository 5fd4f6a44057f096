import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport

@Suite struct UniqueTaskTests {
    @Test func uniqueFor_answersARepeatWithEqualArgumentsWithTheFirstID_untilTheWindowEnds() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        let first = try await h.post("/tasks", #"{"task": "t.report", "args": [1, {"b": 1, "a": [2.0]}], "kwargs": {"x": 1, "y": "z"}, "unique_for": 60}"#)
        #expect(first.status == 202)
        #expect(first.headers["idempotent-replayed"] == nil)
        let id = try #require(first.json?["id"] as? String)
        // Equal arguments, spelled differently (key order, 2.0 as 2): the same task, nothing new queued.
        let again = try await h.post("/tasks", #"{"task": "t.report", "args": [1, {"a": [2], "b": 1}], "kwargs": {"y": "z", "x": 1.0}, "unique_for": 60}"#)
        #expect(again.status == 202)
        #expect(again.json?["id"] as? String == id)
        #expect(again.headers["idempotent-replayed"] == "true")
        #expect(again.headers["location"] == "/tasks/\(id)")
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(1))
        // Other arguments or another name: other tasks.
        let other = try await h.post("/tasks", #"{"task": "t.report", "args": [2], "unique_for": 60}"#)
        let renamed = try await h.post("/tasks", #"{"task": "t.other", "args": [1, {"a": [2], "b": 1}], "kwargs": {"x": 1, "y": "z"}, "unique_for": 60}"#)
        #expect(other.json?["id"] as? String != id && renamed.json?["id"] as? String != id)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(3))
        // A short window ends: the same submission then queues a new task. (Three seconds, not less: a
        // loaded machine once took longer than half a second between the first two posts.)
        let short = #"{"task": "t.short", "args": [], "unique_for": 3}"#
        let shortID = try await h.post("/tasks", short).json?["id"] as? String
        #expect(try await h.post("/tasks", short).json?["id"] as? String == shortID)
        let renewed = await waitUntil(timeout: 15, interval: 0.1) {
            let id = try? await h.post("/tasks", short).json?["id"] as? String
            return id != nil && id != shortID
        }
        #expect(renewed)
        await h.stop()
    }

    @Test func aTaskDeclaredUnique_isUniqueWithoutUniqueForInTheBody() async throws {
        let unique = TaskDefinition(name: "t.unique", parameters: [], options: TaskOptions(uniqueFor: 60)) { _, _ in .null }
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false, tasks: [unique])
        let first = try await h.post("/tasks", #"{"task": "t.unique", "args": [1]}"#)
        let again = try await h.post("/tasks", #"{"task": "t.unique", "args": [1]}"#)
        #expect(first.status == 202 && again.status == 202)
        #expect(again.json?["id"] as? String == first.json?["id"] as? String)
        #expect(again.headers["idempotent-replayed"] == "true")
        // Tasks without the option stay plain.
        let plain = #"{"task": "t.plain", "args": [1]}"#
        #expect(try await h.post("/tasks", plain).json?["id"] as? String != (try await h.post("/tasks", plain).json?["id"] as? String))
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(3))
        await h.stop()
    }

    @Test func uniqueFor_outOfRange_is422NamingIt() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        for bad in ["0", "-1", "\"60\"", "1e12", "true"] {
            let response = try await h.post("/tasks", #"{"task": "t.report", "unique_for": \#(bad)}"#)
            #expect(response.status == 422, "\(bad)")
            #expect(response.json?["field"] as? String == "unique_for", "\(bad)")
        }
        await h.stop()
    }

    @Test func sha256_matchesTheStandardVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // More than one block, and a length whose padding spills into a second block.
        #expect(SHA256.hex(Array(repeating: UInt8(ascii: "a"), count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
