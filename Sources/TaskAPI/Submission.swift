import Foundation
import HTTPServer
import TaskProtocol

/// A `POST /tasks` body, validated: every field typed and in range before a message is built from it,
/// so that nothing a client sends can reach a trapping conversion. Pure (no Redis): the API and the
/// `APIRequestFuzz` target share it.
public struct Submission: Sendable {
    /// The fields `POST /tasks` accepts; anything else is a 422 naming the field.
    public static let fields: Set<String> = ["task", "args", "kwargs", "queue", "countdown", "eta", "expires", "priority", "unique_for"]

    public var task: String
    public var args: [JSONValue]
    public var kwargs: JSONObject
    /// Queue, ETA, expiry and priority, as the message will carry them.
    public var options: TaskMessage.Options
    /// The `Idempotency-Key` header: a retried submission with the same key creates nothing new.
    public var idempotencyKey: String?
    /// `unique_for`: seconds in which a submission of the same task with equal args and kwargs answers
    /// with the first one's id instead of queueing another (an `Idempotency-Key`, when given, decides instead).
    public var uniqueFor: Double?

    /// Reads the request's JSON body at `now`; a 4xx `HTTPError` naming the field when it is wrong.
    public init(_ request: HTTPRequest, now: Date) throws {
        let body = try Self.jsonObject(request)
        try self.init(body: body, idempotencyKey: try Self.idempotencyKey(request), now: now)
    }

    /// One task object (the body of `POST /tasks`, or a member of `POST /groups` and `POST /chains`)
    /// read at `now`; a 422 `HTTPError` naming the field when it is wrong.
    public init(body: JSONObject, idempotencyKey: String? = nil, now: Date) throws {
        self.idempotencyKey = idempotencyKey
        for (key, _) in body.pairs where !Self.fields.contains(key) {
            // A key "" would name no field at all: the body is at fault then.
            throw key.isEmpty ? HTTPError(status: 422, detail: "the body has a field with an empty name", field: "body")
                              : HTTPError(status: 422, detail: "unknown field '\(key)'", field: key)
        }
        guard let taskValue = body["task"], !taskValue.isNull else {
            throw HTTPError(status: 422, detail: "'task' is required: the registered task name", field: "task")
        }
        // Counted in code points, as JSON Schema's maxLength counts (not grapheme clusters).
        guard let task = taskValue.stringValue, !task.isEmpty, task.unicodeScalars.count <= 256 else {
            throw HTTPError(status: 422, detail: "'task' must be a non-empty string of at most 256 characters", field: "task")
        }
        self.task = task
        switch body["args"] {
        case nil, .null?: args = []
        case .array(let a)?: args = a
        case let other?: throw HTTPError(status: 422, detail: "'args' must be an array, got \(other.typeName)", field: "args")
        }
        switch body["kwargs"] {
        case nil, .null?: kwargs = [:]
        case .object(let o)?: kwargs = o
        case let other?: throw HTTPError(status: 422, detail: "'kwargs' must be an object, got \(other.typeName)", field: "kwargs")
        }
        options = TaskMessage.Options()
        switch body["queue"] {
        case nil, .null?: break
        case .string(let q)? where Self.isValidQueue(q): options.queue = q
        default: throw HTTPError(status: 422, detail: "'queue' must be a non-empty string of at most 200 printable characters", field: "queue")
        }
        let countdown = try Self.seconds(body, "countdown", allowZero: true)
        let eta = try Self.date(body, "eta", now: now)
        if countdown != nil && eta != nil {
            throw HTTPError(status: 422, detail: "give either 'countdown' or 'eta', not both", field: "eta")
        }
        if let countdown, countdown > 0 { options.eta = now.addingTimeInterval(countdown) }
        if let eta { options.eta = eta }
        if case .string? = body["expires"] {
            options.expires = try Self.date(body, "expires", now: now)
        } else if let seconds = try Self.seconds(body, "expires", allowZero: false) {
            options.expires = now.addingTimeInterval(seconds)
        }
        uniqueFor = try Self.seconds(body, "unique_for", allowZero: false)
        switch body["priority"] {
        case nil, .null?: break
        case .int(let p)? where (0...9).contains(p): options.priority = Int(p)
        // JSON Schema's integer: 8.0 is one (Python's json.dumps writes floats that way).
        case .double(let p)? where (0...9).contains(p) && p == p.rounded(): options.priority = Int(p)
        default: throw HTTPError(status: 422, detail: "'priority' must be an integer 0-9 (on Redis 0 is served first)", field: "priority")
        }
    }

    /// The `Idempotency-Key` header, checked: 1 to 200 visible ASCII characters.
    public static func idempotencyKey(_ request: HTTPRequest) throws -> String? {
        try request.headers["idempotency-key"].map { key -> String in
            guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw HTTPError(status: 400, detail: "Idempotency-Key must be 1 to 200 visible ASCII characters", field: "Idempotency-Key")
            }
            return key
        }
    }

    /// The body as a JSON object, or a 4xx naming what is wrong.
    public static func jsonObject(_ request: HTTPRequest) throws -> JSONObject {
        if let type = request.headers["content-type"], type != "application/json" {
            let base = mediaType(type)
            // curl -d sends form-urlencoded by default; we read the bytes as JSON all the same.
            guard base == "application/json" || base.hasSuffix("+json") || base == "application/x-www-form-urlencoded" else {
                throw HTTPError(status: 415, detail: "send the body as application/json, not \(base)", field: "Content-Type")
            }
        }
        guard !request.body.isEmpty else { throw HTTPError(status: 400, detail: "the request body is empty; send a JSON object", field: "body") }
        let value: JSONValue
        do { value = try JSONValue.parse(request.body) } catch {
            throw HTTPError(status: 400, detail: "the body is not valid JSON: \(error)", field: "body")
        }
        guard let object = value.objectValue else {
            throw HTTPError(status: 422, detail: "the body must be a JSON object, got \(value.typeName)", field: "body")
        }
        return object
    }

    /// The media type of a Content-Type value: before any `;`, without surrounding spaces and tabs,
    /// ASCII letters lowercased (media types are ASCII and case-insensitive); no Foundation on this path.
    static func mediaType(_ value: String) -> String {
        var bytes = Array(value.utf8.prefix { $0 != UInt8(ascii: ";") })
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        let start = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? bytes.endIndex
        for i in start..<bytes.count where (0x41...0x5A).contains(bytes[i]) { bytes[i] |= 0x20 }
        return String(decoding: bytes[start...], as: UTF8.self)
    }

    /// A number of seconds from now, at most `TimeBounds.maxSecondsAhead` (ten years).
    static func seconds(_ body: JSONObject, _ field: String, allowZero: Bool) throws -> Double? {
        guard let value = body[field], !value.isNull else { return nil }
        let limit = Int(TimeBounds.maxSecondsAhead)
        guard let d = value.doubleValue, TimeBounds.isDelay(d), allowZero || d > 0 else {
            let range = allowZero ? "from 0 to \(limit) (ten years)" : "above 0 and at most \(limit) (ten years), or an ISO-8601 date-time"
            throw HTTPError(status: 422, detail: "'\(field)' must be a number of seconds \(range)", field: field)
        }
        return d
    }

    /// An ISO-8601 date-time no more than ten years from `now` (the past is fine: it is due at once).
    static func date(_ body: JSONObject, _ field: String, now: Date) throws -> Date? {
        guard let value = body[field], !value.isNull else { return nil }
        guard let text = value.stringValue, let date = CeleryDate.parse(text) else {
            throw HTTPError(status: 422, detail: "'\(field)' must be an ISO-8601 date-time such as 2026-11-25T12:00:00+00:00", field: field)
        }
        guard date.timeIntervalSince(now) <= TimeBounds.maxSecondsAhead else {
            throw HTTPError(status: 422, detail: "'\(field)' must be at most ten years from now, not \(text)", field: field)
        }
        return date
    }

    static func isValidQueue(_ q: String) -> Bool {
        !q.isEmpty && q.count <= 200 && q.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
    }
}
