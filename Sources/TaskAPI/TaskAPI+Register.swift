import Foundation
import HTTPServer
import RedisClient
import TaskProtocol
import TaskQueue

extension TaskAPI {
    /// Creates the user, reserves the email, and enqueues the activation email — one Lua script, so a
    /// user never exists without the email task, nor twice. KEYS: email index, user hash, queue list,
    /// task record. ARGV: user id, email, created_at, message, task id, task name, queue, ttl.
    static let registerScript = RedisScript(name: "register_user", source: """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then
          return redis.call('GET', KEYS[1])
        end
        redis.call('HSET', KEYS[2], 'id', ARGV[1], 'email', ARGV[2], 'created_at', ARGV[3], 'activation_task_id', ARGV[5], 'active', '0')
        redis.call('LPUSH', KEYS[3], ARGV[4])
        redis.call('HSET', KEYS[4], 'name', ARGV[6], 'queue', ARGV[7], 'state', 'PENDING', 'submitted_at', ARGV[3], 'retries', '0')
        redis.call('EXPIRE', KEYS[4], tonumber(ARGV[8]))
        return 1
        """)

    /// `POST /register {"email": …}`: 201 at once with the user id and the email task's id; a worker sends it.
    func register(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try Submission.jsonObject(request)
        for key in body.keys where key != "email" {
            throw HTTPError(status: 422, detail: "unknown field '\(key)'", field: key)
        }
        guard let raw = body["email"]?.stringValue else {
            throw HTTPError(status: 422, detail: "'email' is required and must be a string", field: "email")
        }
        let email = raw.trimmingCharacters(in: .whitespaces).lowercased()
        guard Self.isPlausibleEmail(email) else {
            throw HTTPError(status: 422, detail: "'\(raw)' is not an email address", field: "email")
        }
        let userID = TaskMessage.newID()
        let now = Date()
        var options = TaskMessage.Options()
        options.queue = configuration.emailQueue
        options.origin = origin
        let link = "\(configuration.publicURL)/activate/\(userID)"
        let message = TaskMessage.make(task: "send_activation_email", args: [.string(email), .string(userID), .string(link)],
                                       kwargs: [:], options: options)
        let reply = try await broker.redis.evaluate(Self.registerScript, keys: [
            RedisArgument(broker.keys.prefix + "users:email:" + email),
            RedisArgument(broker.keys.prefix + "user:" + userID),
            RedisArgument(broker.listName(for: message)),
            RedisArgument(broker.keys.taskRecord(message.id)),
        ], arguments: [
            RedisArgument(userID), RedisArgument(email), RedisArgument(CeleryDate.format(now)),
            RedisArgument(message.encoded()), RedisArgument(message.id), RedisArgument(message.task),
            RedisArgument(message.queue), RedisArgument(broker.resultExpires),
        ])
        guard reply.integer == 1 else {
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
