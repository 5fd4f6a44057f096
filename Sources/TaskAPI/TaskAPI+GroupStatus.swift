import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// `GET /groups/{id}`; with `?wait=S`, a long poll that answers once every member (and the chord's
    /// callback) is ready, or after S seconds with what is known then. Unknown id → 404.
    func groupStatus(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = try Self.taskID(request)
        let wait = try Self.waitSeconds(request, max: configuration.maxWaitSeconds)
        let deadline = Date().addingTimeInterval(wait)
        var (view, pending) = try await groupSnapshot(id)
        // Wait on the first task not ready yet; any publish may be the last one, so look again after each.
        while let next = pending, deadline.timeIntervalSinceNow > 0, !Task.isCancelled, await !resultWaiter.isClosed {
            try await resultWaiter.wait(for: next, timeout: deadline.timeIntervalSinceNow) {
                try await broker.statuses([next]).first??.state.isReady ?? false
            }
            (view, pending) = try await groupSnapshot(id)
        }
        return .json(bytes: view.serializedBytes())
    }

    /// `POST /groups/{id}/revoke`: revokes every member (and the chord's callback) not finished yet.
    func revokeGroup(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = try Self.taskID(request)
        let group = try await storedGroup(id)
        let ids = group.saved.memberIDs + (group.callbackID.map { [$0] } ?? [])
        let statuses = try await broker.statuses(ids)
        let unfinished = zip(ids, statuses).filter { !($0.1?.state.isReady ?? false) }.map(\.0)
        var revoked: [String] = []
        // A member of a saved group was submitted even when Redis has no trace of it yet (a Python producer).
        for taskID in unfinished where try await broker.revoke(taskID, evenIfUnknown: true) == .revoked {
            revoked.append(taskID)
        }
        return .json(status: 202, bytes: JSONValue.object([
            "id": .string(id), "revoked": .array(revoked.map { .string($0) }),
            "already_finished": .int(Int64(ids.count - revoked.count)),
        ]).serializedBytes())
    }

    func storedGroup(_ id: String) async throws -> Broker.StoredGroup {
        guard let group = try await broker.group(id) else {
            throw HTTPError(status: 404, title: "Not Found", detail: "no group with id '\(id)' was ever saved (or it expired)", field: "id")
        }
        return group
    }

    /// The group as `GET /groups/{id}` shows it, and the first task not ready yet (nil when all are).
    func groupView(_ id: String) async throws -> JSONValue { try await groupSnapshot(id).view }

    func groupSnapshot(_ id: String) async throws -> (view: JSONValue, pending: String?) {
        let group = try await storedGroup(id)
        let members = group.saved.memberIDs
        let statuses = try await broker.statuses(members + (group.callbackID.map { [$0] } ?? []))
        func entry(_ taskID: String, _ status: Broker.TaskStatus?) -> (json: JSONValue, state: TaskState) {
            let state = status?.state ?? .pending
            var object: JSONObject = ["id": .string(taskID), "state": .string(state.rawValue),
                                      "result": state == .success ? status?.document?.result ?? .null : .null]
            if state != .success, state.isReady, let exception = status?.document?.exception {
                object["error"] = ["type": .string(exception.type), "message": .string(exception.text)]
            }
            return (.object(object), state)
        }
        var tasks: [JSONValue] = [], results: [JSONValue] = []
        tasks.reserveCapacity(members.count)
        results.reserveCapacity(members.count)
        var completed = 0, successful = 0, failed = 0, moving = false
        var pending: String?
        for (index, taskID) in members.enumerated() {
            let (json, state) = entry(taskID, statuses[index])
            tasks.append(json)
            results.append(state == .success ? json["result"] ?? .null : .null)
            if state.isReady { completed += 1 } else if pending == nil { pending = taskID }
            if state == .success { successful += 1 } else if state.isReady { failed += 1 }
            if state != .pending { moving = true }
        }
        var callback: JSONValue = .null
        var state: TaskState = successful == members.count ? .success : failed > 0 && !tasks.contains { $0["state"] == "FAILURE" } ? .revoked : .failure
        if let callbackID = group.callbackID {
            let (json, callbackState) = entry(callbackID, statuses[members.count])
            callback = json
            if pending == nil, !callbackState.isReady { pending = callbackID }
            if completed == members.count { state = callbackState.isReady ? callbackState : .started }
        }
        if completed < members.count { state = moving ? .started : .pending }
        return (JSONValue.object([
            "id": .string(id), "state": .string(state.rawValue), "size": .int(Int64(members.count)),
            "completed": .int(Int64(completed)), "successful": .int(Int64(successful)), "failed": .int(Int64(failed)),
            "results": .array(results), "tasks": .array(tasks), "callback": callback,
        ]), pending)
    }
}
