import Celeriac
import Foundation
import HTTPServer
import TaskAPI

/// The sign-up example: `POST /register {"email": …}` creates a *pending* user, reserves the email
/// and enqueues the activation email in one atomic step (`Broker.enqueue(_:claiming:as:writing:)`);
/// the email links to `GET /activate/{token}` (a random single-use token, valid `activationTTL`,
/// default 48 h) and `GET /users/{id}` shows the account. App code, not part of the generic API: a
/// user's own binary serves the task API without it.
///
/// Registering a **pending** address again sends a new email with a fresh token (older links keep
/// working until they expire; the first one used wins), at most once per `resendInterval` (default
/// 60 s; sooner is a 429 with `Retry-After`). Registering an **active** address is a 409.
public enum Registration {
    /// The email index: address → user id (kept for good).
    static func emailKey(_ keys: KeySpace, _ email: String) -> String { keys.prefix + "users:email:" + email }
    /// The user hash: id, email, status (`pending`/`active`), created_at, activated_at, activation_task_id, last_sent_at.
    static func userKey(_ keys: KeySpace, _ userID: String) -> String { keys.prefix + "user:" + userID }
    /// Held for `resendInterval` after a resend: the rate limit on activation emails per user.
    static func resendKey(_ keys: KeySpace, _ userID: String) -> String { keys.prefix + "user-resend:" + userID }
    /// An activation link's ticket (owner user id, expiry, used_at).
    static func ticketKey(_ keys: KeySpace, _ token: String) -> String { keys.prefix + "activation:" + token }

    /// The example's routes: `POST /register`, `GET /users/{id}`, `GET /activate/{token}`.
    public static func routes(settings: ExampleTasks.Settings) -> [AppRoute] {
        [
            AppRoute(.post, "/register", access: .submit) { api, request in try await register(request, api: api, settings: settings) },
            AppRoute(.get, "/users/{id}", access: .read) { api, request in try await user(request, api: api) },
            // Clicked from an email: no bearer token; the single-use token in the link is the credential.
            AppRoute(.get, "/activate/{token}", access: .open) { api, request in try await activate(request, api: api) },
        ]
    }

    /// 201 at once with the user id and the email task's id (a worker sends it); 202 when a pending
    /// address gets a new email; 409 for an active one; 429 when the last email is too recent.
    static func register(_ request: HTTPRequest, api: TaskAPI, settings: ExampleTasks.Settings) async throws -> HTTPResponse {
        let email = try requestedEmail(request)
        let keys = api.broker.keys
        if let existing = try await api.broker.claimedValue(emailKey(keys, email)) {
            return try await resend(to: email, userID: existing, api: api, settings: settings)
        }
        let userID = TaskMessage.newID()
        let now = Date()
        let (message, _) = try await activationTask(email: email, userID: userID, api: api, settings: settings, now: now)
        let owner = try await api.broker.enqueue(message, claiming: emailKey(keys, email), as: userID, writing: (
            key: userKey(keys, userID),
            fields: [("id", userID), ("email", email), ("status", "pending"), ("created_at", CeleryDate.format(now)),
                     ("activation_task_id", message.id), ("last_sent_at", String(Int64(now.timeIntervalSince1970)))]), now: now)
        guard owner == userID else {
            throw HTTPError(status: 409, title: "Conflict", detail: "'\(email)' is being registered by another request", field: "email")
        }
        var response = HTTPResponse.json(status: 201, bytes: answer(userID: userID, email: email, taskID: message.id, resent: false))
        response.headers.add(name: "Location", value: "/users/\(userID)")
        return response
    }

    /// A fresh link for a pending user, rate-limited; the user hash records the new task.
    static func resend(to email: String, userID: String, api: TaskAPI, settings: ExampleTasks.Settings) async throws -> HTTPResponse {
        let keys = api.broker.keys
        guard let user = try await api.broker.appHash(userKey(keys, userID)), status(of: user) == "pending" else {
            throw HTTPError(status: 409, title: "Conflict", detail: "'\(email)' is already registered", field: "email")
        }
        let now = Date()
        let last = TimeInterval(user["last_sent_at"] ?? "") ?? 0
        let wait = Double(settings.resendInterval) - (now.timeIntervalSince1970 - last)
        let (message, token) = try await activationTask(email: email, userID: userID, api: api, settings: settings, now: now,
                                                        issuing: wait <= 0)
        let claimed = wait > 0 ? nil : try await api.broker.enqueue(
            message, claiming: resendKey(keys, userID), as: token, claimSeconds: settings.resendInterval,
            writing: (key: userKey(keys, userID),
                      fields: [("activation_task_id", message.id), ("last_sent_at", String(Int64(now.timeIntervalSince1970)))]),
            now: now)
        guard claimed == token else {
            var response = HTTPError(status: 429, title: "Too Many Requests",
                                     detail: "an activation email was sent to '\(email)' less than \(settings.resendInterval) s ago",
                                     field: "email").response
            response.headers.add(name: "Retry-After", value: String(max(1, Int(wait.rounded(.up)))))
            return response
        }
        var response = HTTPResponse.json(status: 202, bytes: answer(userID: userID, email: email, taskID: message.id, resent: true))
        response.headers.add(name: "Location", value: "/users/\(userID)")
        return response
    }

    /// The email task with a new link; its ticket is issued first (a ticket whose email never goes
    /// out is harmless and expires), so no email can carry a link that does not exist.
    static func activationTask(email: String, userID: String, api: TaskAPI, settings: ExampleTasks.Settings, now: Date,
                               issuing: Bool = true) async throws -> (TaskMessage, String) {
        let token = ActivationToken.make()
        if issuing {
            let expires = now.addingTimeInterval(settings.activationTTL)
            try await api.broker.issueTicket(ticketKey(api.broker.keys, token), owner: userID, expiresAt: expires,
                                             keepSeconds: Int(settings.activationTTL) + ActivationToken.keepAfterExpiry)
        }
        var options = TaskMessage.Options()
        options.queue = settings.emailQueue
        options.origin = api.origin
        let link = "\(api.configuration.publicURL)/activate/\(token)"
        let message = TaskMessage.make(task: "send_activation_email", args: [.string(email), .string(userID), .string(link)],
                                       kwargs: [:], options: options)
        return (message, token)
    }

    /// `pending` or `active`; users written before `status` existed had `active` = 0/1.
    static func status(of user: [String: String]) -> String {
        user["status"] ?? (user["active"] == "1" ? "active" : "pending")
    }

    static func answer(userID: String, email: String, taskID: String, resent: Bool) -> [UInt8] {
        JSONValue.object([
            "user_id": .string(userID), "email": .string(email), "status": "pending", "resent": .bool(resent),
            "activation_task_id": .string(taskID), "activation_task_url": .string("/tasks/\(taskID)"),
        ]).serializedBytes()
    }
}
