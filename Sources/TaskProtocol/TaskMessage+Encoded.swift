extension TaskMessage {
    /// A new message as the broker publishes it: its envelope and the few fields routing and its
    /// PENDING record read. A group's members are built as these rather than as whole `TaskMessage`s,
    /// whose ordered headers and properties cost about as much again as the envelope and are never read
    /// on that path.
    public struct Encoded: Sendable {
        public var id: String
        public var task: String
        public var queue: String
        public var priority: Int?
        public var retries: Int
        /// Celery's `group` header.
        public var groupID: String?
        /// Celery's `argsrepr` and `kwargsrepr` headers.
        public var argsRepr: String
        public var kwargsRepr: String
        /// The kombu envelope: the bytes `TaskMessage.encoded()` gives for the same message.
        public var envelope: [UInt8]

    }

    /// The message `make` builds with these arguments, encoded only: the same envelope bytes
    /// (FastEncodingTests holds the two equal). `embed` nil is `TaskMessage.emptyEmbed`.
    public static func encode(task: String, id: String = newID(), args: [JSONValue], kwargs: JSONObject,
                              options: Options = Options(), embed: JSONValue? = nil) -> Encoded {
        let fields = MadeFields(task: task, id: id, rootID: options.rootID ?? id, deliveryTag: newID(),
                                argsRepr: PythonRepr.tuple(args), kwargsRepr: PythonRepr.dict(kwargs), options: options)
        return Encoded(id: id, task: task, queue: options.queue, priority: options.priority ?? 0, retries: options.retries,
                       groupID: options.groupID, argsRepr: fields.argsRepr, kwargsRepr: fields.kwargsRepr,
                       envelope: fields.envelope(args: args, kwargs: kwargs, embed: embed))
    }
}

extension TaskMessage.Encoded {
    /// Any message, as it would be published (its envelope serialized unless `make` wrote it).
    public init(_ message: TaskMessage) {
        id = message.id
        task = message.task
        queue = message.queue
        priority = message.priority
        retries = message.retries
        groupID = message.groupID
        argsRepr = message.headers["argsrepr"]?.stringValue ?? PythonRepr.tuple(message.args)
        kwargsRepr = message.headers["kwargsrepr"]?.stringValue ?? PythonRepr.dict(message.kwargs)
        envelope = message.encoded()
    }
}
