/// Celery's serialized exception: `{"exc_type", "exc_message", "exc_module"}`. Python rebuilds it on
/// `get()`: `builtins.ValueError` becomes a real `ValueError`; an unknown module/type becomes a class
/// Celery creates on the fly with the same name.
public struct ExceptionInfo: Sendable, Equatable, Error, CustomStringConvertible {
    public var type: String
    public var message: [JSONValue]
    public var module: String

    public init(type: String, message: [JSONValue], module: String = "builtins") {
        self.type = type
        self.message = message
        self.module = module
    }

    /// A one-argument exception, the common case (`ValueError('kaboom')`).
    public init(type: String, message: String, module: String = "builtins") {
        self.init(type: type, message: [.string(message)], module: module)
    }

    public var json: JSONValue {
        ["exc_type": .string(type), "exc_message": .array(message), "exc_module": .string(module)]
    }

    public init?(json: JSONValue) {
        guard let type = json["exc_type"]?.stringValue else { return nil }
        let message: [JSONValue]
        switch json["exc_message"] {
        case .array(let a)?: message = a
        case let other?: message = [other]
        case nil: message = []
        }
        self.init(type: type, message: message, module: json["exc_module"]?.stringValue ?? "builtins")
    }

    /// The exception's text as Python's `str()` would show a one-argument exception.
    public var text: String {
        if message.count == 1, let s = message[0].stringValue { return s }
        if message.isEmpty { return "" }
        return message.count == 1 ? PythonRepr.repr(message[0]) : PythonRepr.tuple(message)
    }

    /// `ValueError('kaboom')`, the form Celery logs.
    public var pythonRepr: String {
        if message.count == 1 { return "\(type)(\(PythonRepr.repr(message[0])))" }
        return "\(type)\(PythonRepr.tuple(message))"
    }

    public var description: String { pythonRepr }
}
