import Celeriac
import Foundation
import HTTPServer
import TaskAPI

/// The sign-up example: `POST /register {"email": …}` creates the user, reserves the email and
/// enqueues the activation email in one atomic step (`Broker.enqueue(_:claiming:as:writing:)`), so a
/// user never exists without the email task, nor twice. App code, not part of the generic API: a
/// user's own binary serves the task API without it.
public enum Registration {
    /// The email index: address → user id (kept for good).
    static func emailKey(_ keys: KeySpace, _ email: String) -> String { keys.prefix + "users:email:" + email }
    /// The user hash.
    static func userKey(_ keys: KeySpace, _ userID: String) -> String { keys.prefix + "user:" + userID }

    /// The `POST /register` route; the activation email task goes to `emailQueue`.
    public static func route(emailQueue: String = "celery") -> AppRoute {
        AppRoute(.post, "/register", access: .submit) { api, request in try await register(request, api: api, emailQueue: emailQueue) }
    }

    /// 201 at once with the user id and the email task's id (a worker sends it); 409 for a known email.
    static func register(_ request: HTTPRequest, api: TaskAPI, emailQueue: String) async throws -> HTTPResponse {
        let body = try Submission.jsonObject(request)
        for key in body.keys where key != "email" {
            throw HTTPError(status: 422, detail: "unknown field '\(key)'", field: key)
        }
        guard let raw = body["email"]?.stringValue else {
            throw HTTPError(status: 422, detail: "'email' is required and must be a string", field: "email")
        }
        let email = raw.trimmingCharacters(in: .whitespaces).lowercased()
        guard isPlausibleEmail(email) else {
            throw HTTPError(status: 422, detail: "'\(raw)' is not an email address", field: "email")
        }
        let userID = TaskMessage.newID()
        let now = Date()
        var options = TaskMessage.Options()
        options.queue = emailQueue
        options.origin = api.origin
        let link = "\(api.configuration.publicURL)/activate/\(userID)"
        let message = TaskMessage.make(task: "send_activation_email", args: [.string(email), .string(userID), .string(link)],
                                       kwargs: [:], options: options)
        let keys = api.broker.keys
        let owner = try await api.broker.enqueue(message, claiming: emailKey(keys, email), as: userID, writing: (
            key: userKey(keys, userID),
            fields: [("id", userID), ("email", email), ("created_at", CeleryDate.format(now)),
                     ("activation_task_id", message.id), ("active", "0")]), now: now)
        guard owner == userID else {
            throw HTTPError(status: 409, title: "Conflict", detail: "'\(email)' is already registered", field: "email")
        }
        var response = HTTPResponse.json(status: 201, bytes: JSONValue.object([
            "user_id": .string(userID),
            "email": .string(email),
            "activation_task_id": .string(message.id),
            "activation_task_url": .string("/tasks/\(message.id)"),
        ]).serializedBytes())
        response.headers.add(name: "Location", value: "/users/\(userID)")
        return response
    }

    /// One `@`, a non-empty local part, a dotted domain, no spaces, at most 254 characters.
    static func isPlausibleEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard s.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" && $0 != "," }
    }
}
