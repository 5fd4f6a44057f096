import Foundation

/// A Celery protocol-2 task message as kombu puts it on Redis: the envelope
/// `{"body", "content-encoding", "content-type", "headers", "properties"}` whose body is the
/// base64 of `[args, kwargs, embed]`.
///
/// Headers and properties are kept whole (ordered), so a message we restore or forward keeps
/// every field a Python peer wrote; the typed accessors read the ones Celeriac uses.
public struct TaskMessage: Sendable, Equatable {
    public var headers: JSONObject { didSet { madeEnvelope = nil } }
    public var properties: JSONObject { didSet { madeEnvelope = nil } }
    public var args: [JSONValue] { didSet { madeEnvelope = nil } }
    public var kwargs: JSONObject { didSet { madeEnvelope = nil } }
    /// `{"callbacks", "errbacks", "chain", "chord"}`; `{}` and `null` are accepted too.
    public var embed: JSONValue { didSet { madeEnvelope = nil } }
    public var contentType: String { didSet { madeEnvelope = nil } }
    public var contentEncoding: String { didSet { madeEnvelope = nil } }
    /// The envelope `make` wrote from its typed fields (`encoded()` returns it); any change to the
    /// message drops it, and `encoded()` then serializes the fields as they are.
    var madeEnvelope: [UInt8]?

    /// Equal when every field is (whether an envelope is kept written does not count).
    public static func == (lhs: TaskMessage, rhs: TaskMessage) -> Bool {
        lhs.headers == rhs.headers && lhs.properties == rhs.properties && lhs.args == rhs.args && lhs.kwargs == rhs.kwargs
            && lhs.embed == rhs.embed && lhs.contentType == rhs.contentType && lhs.contentEncoding == rhs.contentEncoding
    }

    public init(headers: JSONObject, properties: JSONObject, args: [JSONValue], kwargs: JSONObject,
                embed: JSONValue = TaskMessage.emptyEmbed,
                contentType: String = "application/json", contentEncoding: String = "utf-8") {
        self.headers = headers
        self.properties = properties
        self.args = args
        self.kwargs = kwargs
        self.embed = embed
        self.contentType = contentType
        self.contentEncoding = contentEncoding
    }

    /// The embed Celery sends for a plain task.
    public static let emptyEmbed: JSONValue = ["callbacks": nil, "errbacks": nil, "chain": nil, "chord": nil]

    // MARK: typed accessors

    public var id: String { headers["id"]?.stringValue ?? "" }
    public var task: String { headers["task"]?.stringValue ?? "" }
    public var retries: Int { Int(headers["retries"]?.intValue ?? 0) }
    public var eta: Date? { headers["eta"]?.stringValue.flatMap(CeleryDate.parse) }
    public var expires: Date? { headers["expires"]?.stringValue.flatMap(CeleryDate.parse) }
    public var parentID: String? { headers["parent_id"]?.stringValue }
    public var rootID: String? { headers["root_id"]?.stringValue }
    public var groupID: String? { headers["group"]?.stringValue }
    public var groupIndex: Int64? { headers["group_index"]?.intValue }
    /// A chord header member's callback signature (`embed.chord`), if any.
    public var chordCallback: JSONValue? {
        guard case .object(let embed) = embed, let chord = embed["chord"], chord != .null else { return nil }
        return chord
    }
    public var ignoreResult: Bool { headers["ignore_result"]?.boolValue ?? false }
    public var deliveryTag: String { properties["delivery_tag"]?.stringValue ?? "" }
    public var priority: Int? { properties["priority"]?.intValue.map { Int($0) } }
    /// The queue: kombu's `delivery_info.routing_key` (tasks use the anonymous exchange `""`).
    public var queue: String { properties["delivery_info"]?["routing_key"]?.stringValue ?? "celery" }
    public var exchange: String { properties["delivery_info"]?["exchange"]?.stringValue ?? "" }
    public var redelivered: Bool {
        properties["delivery_info"]?["redelivered"]?.boolValue ?? headers["redelivered"]?.boolValue ?? false
    }
    /// `timelimit` is `[hard, soft]` in seconds (the order Celery's code uses).
    public var timeLimits: (hard: Double?, soft: Double?) {
        let pair = headers["timelimit"]?.arrayValue ?? []
        return (pair.first?.doubleValue, pair.count > 1 ? pair[1].doubleValue : nil)
    }

    /// Marks the message as handed back after a worker held it, as kombu's restore does.
    public mutating func markRedelivered() {
        headers["redelivered"] = true
        var info = properties["delivery_info"]?.objectValue ?? ["exchange": "", "routing_key": .string(queue)]
        info["redelivered"] = true
        properties["delivery_info"] = .object(info)
    }
}

extension TaskMessage {
    /// The options of a new message; defaults are Celery's.
    public struct Options: Sendable {
        public var queue: String = "celery"
        public var eta: Date?
        public var expires: Date?
        public var priority: Int?
        public var retries: Int = 0
        public var parentID: String?
        public var rootID: String?
        public var timeLimits: (hard: Double?, soft: Double?) = (nil, nil)
        public var ignoreResult: Bool = false
        public var origin: String = "celeriac"
        /// Celery's `group` / `group_index` headers (a group or chord member, a chord's callback).
        public var groupID: String?
        public var groupIndex: Int?
        /// When the API accepted it: the `celeriac_sent_at` header (epoch seconds) that starts the
        /// workers' queue-wait histogram (Celery ignores headers it does not know); nil for none.
        public var sentAt: Date?
        public init() {}
    }

    /// Builds a message with every protocol-2 header in the order Celery 5.7 sends them, and writes its
    /// envelope at once from the typed fields (`encoded()` hands it out while the message is unchanged).
    public static func make(task: String, id: String = newID(), args: [JSONValue], kwargs: JSONObject,
                            options: Options = Options(), embed: JSONValue = TaskMessage.emptyEmbed) -> TaskMessage {
        func date(_ d: Date?) -> JSONValue { d.map { .string(CeleryDate.format($0)) } ?? .null }
        func number(_ d: Double?) -> JSONValue { d.map { .double($0) } ?? .null }
        let fields = MadeFields(task: task, id: id, rootID: options.rootID ?? id, deliveryTag: newID(),
                                argsRepr: PythonRepr.tuple(args), kwargsRepr: PythonRepr.dict(kwargs), options: options)
        var headers: [(key: String, value: JSONValue)] = [
            ("lang", "py"),
            ("task", .string(task)),
            ("id", .string(id)),
            ("shadow", nil),
            ("eta", date(options.eta)),
            ("expires", date(options.expires)),
            ("group", options.groupID.map { .string($0) } ?? .null),
            ("group_index", options.groupIndex.map { .int(Int64($0)) } ?? .null),
            ("retries", .int(Int64(options.retries))),
            ("timelimit", [number(options.timeLimits.hard), number(options.timeLimits.soft)]),
            ("root_id", .string(fields.rootID)),
            ("parent_id", options.parentID.map { .string($0) } ?? .null),
            ("argsrepr", .string(fields.argsRepr)),
            ("kwargsrepr", .string(fields.kwargsRepr)),
            ("origin", .string(options.origin)),
            ("ignore_result", .bool(options.ignoreResult)),
            ("replaced_task_nesting", 0),
            ("stamped_headers", nil),
            ("stamps", [:]),
        ]
        if let sentAt = options.sentAt { headers.append(("celeriac_sent_at", .double(sentAt.timeIntervalSince1970))) }
        let properties: JSONObject = [
            "correlation_id": .string(id),
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": ["exchange": "", "routing_key": .string(options.queue)],
            "priority": .int(Int64(options.priority ?? 0)),
            "body_encoding": "base64",
            "delivery_tag": .string(fields.deliveryTag),
        ]
        var message = TaskMessage(headers: JSONObject(pairs: headers), properties: properties, args: args, kwargs: kwargs, embed: embed)
        message.madeEnvelope = fields.envelope(args: args, kwargs: kwargs, embed: embed)
        return message
    }

    /// A new lowercase UUID4, the form Celery uses for ids and delivery tags.
    public static func newID() -> String { RandomUUID.make() }
}
