import Celeriac
import Foundation
import HTTPServer
import TaskAPI

extension Registration {
    /// `GET /users/{id}`: the account and the state of its (latest) activation email task.
    static func user(_ request: HTTPRequest, api: TaskAPI) async throws -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        guard isUserID(id), let user = try await api.broker.appHash(userKey(api.broker.keys, id)) else {
            throw HTTPError(status: 404, detail: "no user with id '\(id)'", field: "id")
        }
        let taskID = user["activation_task_id"] ?? ""
        let state = taskID.isEmpty ? nil : try await api.broker.record(taskID)?.state
        let task: JSONValue = taskID.isEmpty ? .null : .object([
            "id": .string(taskID), "state": state.map { .string($0.rawValue) } ?? .null, "url": .string("/tasks/\(taskID)"),
        ])
        return .json(bytes: JSONValue.object([
            "id": .string(id), "email": .string(user["email"] ?? ""), "status": .string(status(of: user)),
            "created_at": user["created_at"].map(JSONValue.string) ?? .null,
            "activated_at": user["activated_at"].map(JSONValue.string) ?? .null,
            "activation_task": task,
        ]).serializedBytes())
    }

    /// `GET /activate/{token}`: spends the link once and activates the user. HTML for a browser, JSON
    /// for `Accept: application/json`; an unknown link is a 404, a used one 409, an expired one 410.
    static func activate(_ request: HTTPRequest, api: TaskAPI) async throws -> HTTPResponse {
        let token = request.pathParameters["token"] ?? ""
        let keys = api.broker.keys
        let unknown = HTTPError(status: 404, title: "Not Found", detail: "this activation link is not valid", field: "token")
        guard ActivationToken.isWellFormed(token), let ticket = try await api.broker.appHash(ticketKey(keys, token)),
              let owner = ticket["owner"], isUserID(owner) else { throw unknown }
        let now = Date()
        let outcome = try await api.broker.redeemTicket(
            ticketKey(keys, token), owner: owner, ownerHash: userKey(keys, owner), unlessField: "status", unlessValue: "active",
            writing: [("status", "active"), ("activated_at", CeleryDate.format(now))], now: now)
        switch outcome {
        case .redeemed: break
        case .unknown: throw unknown
        case .used: throw HTTPError(status: 409, title: "Conflict", detail: "this activation link was already used", field: "token")
        case .expired:
            throw HTTPError(status: 410, title: "Gone", detail: "this activation link has expired; register again for a new one", field: "token")
        }
        let email = try await api.broker.appHash(userKey(keys, owner))?["email"] ?? ""
        if (request.headers["Accept"] ?? "").contains("application/json") {
            return .json(bytes: JSONValue.object([
                "user_id": .string(owner), "email": .string(email), "status": "active",
                "activated_at": .string(CeleryDate.format(now)), "user_url": .string("/users/\(owner)"),
            ]).serializedBytes())
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                            body: Array(activatedPage(email: email).utf8))
    }

    /// The page a browser shows after a successful click; every value shown is escaped.
    static func activatedPage(email: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Account activated</title></head>
        <body><h1>Account activated</h1><p>Thank you: <strong>\(htmlEscaped(email))</strong> is now active.</p></body></html>

        """
    }

    /// `& < > " '` as entities, so nothing a user typed becomes markup.
    static func htmlEscaped(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
