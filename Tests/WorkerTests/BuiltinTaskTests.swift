import Celeriac
import Foundation
import Testing
import TaskProtocol
import TaskQueue
import TestSupport

/// Celery's built-in `celery.map`, `celery.starmap` and `celery.chunks`, as Python canvases send them,
/// run by a worker whose registry comes from an `App`.
@Suite struct BuiltinTaskTests {
    static func harness() throws -> WorkerHarness {
        let app = App(name: "builtins-test")
        app.task("t.add", parameters: ["a", "b"]) { args, _ in .int(try args.int("a") + args.int("b")) }
        app.task("t.double", parameters: ["x"]) { args, _ in .int(try args.int("x") * 2) }
        let h = try WorkerHarness()
        h.registry = app.registry
        return h
    }

    static func signature(_ task: String) -> JSONValue {
        ["task": .string(task), "args": [], "kwargs": [:], "options": [:], "subtask_type": nil, "immutable": false]
    }

    func result(_ h: WorkerHarness, _ id: String) async throws -> ResultDocument? {
        var document: ResultDocument?
        _ = await waitUntil(timeout: 30) {
            document = try? await h.results.get(id)
            return document?.status.isReady == true
        }
        return document
    }

    @Test func starmapAndMap_callTheNamedTaskInProcess_forEachItem() async throws {
        let h = try Self.harness()
        h.startWorker()
        let starmap = try await h.submit("celery.starmap", [Self.signature("t.add"), [[1, 2], [3, 4], [5, 6]]])
        let map = try await h.submit("celery.map", [Self.signature("t.double"), [1, 2, 3]])
        let unknown = try await h.submit("celery.starmap", [Self.signature("t.nope"), [[1, 2]]])
        let badCall = try await h.submit("celery.starmap", [Self.signature("t.add"), [[1]]])
        #expect(try await result(h, starmap)?.result == [3, 7, 11])
        #expect(try await result(h, map)?.result == [2, 4, 6])
        #expect(try await result(h, unknown)?.exception?.type == "NotRegistered")
        #expect(try await result(h, badCall)?.exception?.type == "TypeError")
        try await h.stopWorker()
    }

    @Test func chunks_sendsAGroupOfStarmaps_overSlicesOfN() async throws {
        let h = try Self.harness()
        h.startWorker()
        let items: [JSONValue] = (0..<10).map { [.int(Int64($0)), .int(Int64($0))] }
        let chunks = try await h.submit("celery.chunks", [Self.signature("t.add"), .array(items), 3])
        let tuple = try #require(try await result(h, chunks)?.result)
        let groupID = try #require(tuple.arrayValue?.first?.arrayValue?.first?.stringValue)
        let group = try #require(try await h.broker.group(groupID))
        #expect(group.saved.memberIDs.count == 4)
        var sums: [JSONValue] = []
        for id in group.saved.memberIDs { sums += try await result(h, id)?.result.arrayValue ?? [] }
        #expect(sums == (0..<10).map { .int(Int64(2 * $0)) })
        let zero = try await h.submit("celery.chunks", [Self.signature("t.add"), .array(items), 0])
        #expect(try await result(h, zero)?.exception?.type == "ValueError")
        try await h.stopWorker()
    }
}
