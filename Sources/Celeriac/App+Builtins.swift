import Foundation
import TaskProtocol
import TaskQueue

extension App {
    /// Celery's built-in tasks that Python canvases send to whatever worker consumes the queue
    /// (Celery 5.7's `celery/app/builtins.py`): `celery.map`, `celery.starmap` and `celery.chunks`.
    /// `add.chunks(zip(a, b), 10).group()` is a group of `celery.starmap` tasks, each calling `add`
    /// in-process on its slice, as a Python worker does.
    /// The handlers hold the app (an app lives as long as its process): a worker may run them after
    /// the code that built the app let go of it.
    func registerBuiltins() {
        task("celery.map", parameters: ["task", "it"]) { args, context in
            let (definition, items) = try self.mapped(args)
            var out: [JSONValue] = []
            for item in items { out.append(try await Self.call(definition, args: [item], context: context)) }
            return .array(out)
        }
        task("celery.starmap", parameters: ["task", "it"]) { args, context in
            let (definition, items) = try self.mapped(args)
            var out: [JSONValue] = []
            for item in items {
                guard let itemArgs = item.arrayValue else {
                    throw ExceptionInfo(type: "TypeError", message: "\(definition.name)() argument after * must be an iterable, not \(item.typeName)")
                }
                out.append(try await Self.call(definition, args: itemArgs, context: context))
            }
            return .array(out)
        }
        task("celery.chunks", parameters: ["task", "it", "n"]) { args, context in
            try await Self.chunks(args, context: context)
        }
    }

    /// The task a built-in calls (by its signature's name) and the items of `it`.
    private func mapped(_ args: TaskArguments) throws -> (TaskDefinition, [JSONValue]) {
        let name = try Self.taskName(args)
        guard let definition = registry[name] else {
            throw ExceptionInfo(type: "NotRegistered", message: PythonRepr.string(name), module: "celery.exceptions")
        }
        guard let items = try args.value("it").arrayValue else {
            throw ExceptionInfo(type: "TypeError", message: "'it' must be a list, not \(try args.value("it").typeName)")
        }
        return (definition, items)
    }

    private static func taskName(_ args: TaskArguments) throws -> String {
        let task = try args.value("task")
        guard let name = task.stringValue ?? task["task"]?.stringValue else {
            throw ExceptionInfo(type: "TypeError", message: "'task' must be a signature or a task name, not \(task.typeName)")
        }
        return name
    }

    /// Calls a registered task's handler in this process, as Python's `task(*args)` does.
    private static func call(_ definition: TaskDefinition, args: [JSONValue], context: TaskContext) async throws -> JSONValue {
        let arguments = TaskArguments(args: args, kwargs: [:], parameters: definition.parameters, taskName: definition.name)
        try arguments.validate()
        return try await definition.handler(arguments, context)
    }

    /// `celery.chunks(task, it, n)`: sends a group of `celery.starmap` tasks over slices of `n` items
    /// (saved as Celery's `GroupResult`) and returns the group's tuple (`GroupResult.as_tuple()`).
    private static func chunks(_ args: TaskArguments, context: TaskContext) async throws -> JSONValue {
        let task = try args.value("task")
        _ = try taskName(args)
        let n = try args.int("n")
        guard n > 0 else { throw ExceptionInfo(type: "ValueError", message: "n must be at least 1, not \(n)") }
        guard let items = try args.value("it").arrayValue else {
            throw ExceptionInfo(type: "TypeError", message: "'it' must be a list, not \(try args.value("it").typeName)")
        }
        guard let broker = context.broker else {
            throw ExceptionInfo(type: "RuntimeError", message: "celery.chunks needs a worker's broker to send its group")
        }
        let groupID = TaskMessage.newID()
        var options = TaskMessage.Options()
        options.queue = task["options"]?["queue"]?.stringValue ?? context.queue
        options.groupID = groupID
        options.parentID = context.id
        options.origin = context.hostname
        let size = Int(min(n, Int64(max(1, items.count))))
        let slices = stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
        let members = slices.enumerated().map { index, slice -> TaskMessage in
            var memberOptions = options
            memberOptions.groupIndex = index
            return TaskMessage.make(task: "celery.starmap", args: [], kwargs: ["task": task, "it": .array(slice)], options: memberOptions)
        }
        _ = try await broker.publish(Broker.Group(id: groupID, members: members))
        return .array([.array([.string(groupID), .null]), .array(members.map { .array([.array([.string($0.id), .null]), .null]) })])
    }
}
