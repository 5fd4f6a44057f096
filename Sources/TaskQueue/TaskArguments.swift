import TaskProtocol

/// A task's `args` and `kwargs`, bound to its parameter names the way Python binds a call:
/// positional first, then by keyword. A missing or wrong argument is a `TypeError`, as in Python.
public struct TaskArguments: Sendable {
    public let args: [JSONValue]
    public let kwargs: JSONObject
    public let parameters: [String]
    public let taskName: String

    public init(args: [JSONValue], kwargs: JSONObject, parameters: [String], taskName: String) {
        self.args = args
        self.kwargs = kwargs
        self.parameters = parameters
        self.taskName = taskName
    }

    /// Checks the call against the parameters, as Python would on entry (too many, unknown, doubled).
    public func validate() throws {
        // Only an error names the task: a valid call (every call, almost) builds no string.
        var short: String { taskName.split(separator: ".").last.map(String.init) ?? taskName }
        if !parameters.isEmpty, args.count > parameters.count {
            throw ExceptionInfo(type: "TypeError",
                                message: "\(short)() takes \(parameters.count) positional arguments but \(args.count) were given")
        }
        for key in kwargs.keys {
            if let index = parameters.firstIndex(of: key) {
                if index < args.count {
                    throw ExceptionInfo(type: "TypeError", message: "\(short)() got multiple values for argument '\(key)'")
                }
            } else if !parameters.isEmpty {
                throw ExceptionInfo(type: "TypeError", message: "\(short)() got an unexpected keyword argument '\(key)'")
            }
        }
    }

    /// The argument bound to `name`, or nil when the caller did not pass it.
    public func optional(_ name: String) -> JSONValue? {
        if let index = parameters.firstIndex(of: name), index < args.count { return args[index] }
        return kwargs[name]
    }

    /// The argument bound to `name`; missing → `TypeError` like Python's.
    public func value(_ name: String) throws -> JSONValue {
        guard let v = optional(name) else {
            let short = taskName.split(separator: ".").last.map(String.init) ?? taskName
            throw ExceptionInfo(type: "TypeError", message: "\(short)() missing 1 required positional argument: '\(name)'")
        }
        return v
    }

    public func string(_ name: String) throws -> String {
        let v = try value(name)
        guard let s = v.stringValue else { throw wrongType(name, "str", v) }
        return s
    }

    /// A number: an int stays exact; floats are accepted where a number is wanted.
    public func number(_ name: String) throws -> JSONValue {
        let v = try value(name)
        switch v {
        case .int, .double: return v
        default: throw wrongType(name, "number", v)
        }
    }

    /// An integer argument.
    public func int(_ name: String) throws -> Int64 {
        let v = try value(name)
        if case .int(let i) = v { return i }
        throw wrongType(name, "int", v)
    }

    public func double(_ name: String) throws -> Double {
        let v = try number(name)
        return v.doubleValue!
    }

    private func wrongType(_ name: String, _ expected: String, _ got: JSONValue) -> ExceptionInfo {
        ExceptionInfo(type: "TypeError", message: "argument '\(name)' must be \(expected), not \(got.typeName)")
    }
}
