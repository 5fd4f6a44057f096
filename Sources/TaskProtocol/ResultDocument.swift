import Foundation

/// The document stored under `celery-task-meta-<id>` and published on the channel of the same name.
///
/// Field order is the captured one: `status, result, traceback, children, date_done, [group_id],
/// [parent_id], [extended…], task_id`.
public struct ResultDocument: Sendable, Equatable {
    public var status: TaskState
    /// SUCCESS: the return value. FAILURE/RETRY/REVOKED: an exception object. STARTED: `{pid, hostname}`.
    /// A custom state (`PROGRESS`): the task's meta object, which Python's `AsyncResult.info` returns.
    public var result: JSONValue
    public var traceback: String?
    public var children: [JSONValue]
    /// Set only for ready states, in Celery's `isoformat()` form.
    public var dateDone: String?
    public var groupID: String?
    public var parentID: String?
    /// `result_extended` fields (`name, args, kwargs, worker, retries, queue`), kept in order.
    public var extended: JSONObject
    public var taskID: String

    public init(status: TaskState, result: JSONValue, traceback: String? = nil, children: [JSONValue] = [],
                dateDone: String? = nil, groupID: String? = nil, parentID: String? = nil,
                extended: JSONObject = [:], taskID: String) {
        self.status = status
        self.result = result
        self.traceback = traceback
        self.children = children
        self.dateDone = dateDone
        self.groupID = groupID
        self.parentID = parentID
        self.extended = extended
        self.taskID = taskID
    }

    /// The exception of a FAILURE, RETRY or REVOKED document.
    public var exception: ExceptionInfo? {
        status == .failure || status == .retry || status == .revoked ? ExceptionInfo(json: result) : nil
    }

    public var json: JSONValue {
        var object: JSONObject = [
            "status": .string(status.rawValue),
            "result": result,
            "traceback": traceback.map { .string($0) } ?? .null,
            "children": .array(children),
            "date_done": dateDone.map { .string($0) } ?? .null,
        ]
        if let groupID { object["group_id"] = .string(groupID) }
        if let parentID { object["parent_id"] = .string(parentID) }
        for pair in extended.pairs { object[pair.key] = pair.value }
        object["task_id"] = .string(taskID)
        return .object(object)
    }

    /// The exact bytes to SETEX and PUBLISH.
    public func encoded() -> [UInt8] { json.serializedBytes() }

    /// Reads a stored document; nil when it is not one (no `status`/`task_id`, unknown state).
    public init?(json: JSONValue) {
        guard let object = json.objectValue,
              let statusText = object["status"]?.stringValue, let status = TaskState(rawValue: statusText),
              let taskID = object["task_id"]?.stringValue else { return nil }
        let known: Set<String> = ["status", "result", "traceback", "children", "date_done", "group_id", "parent_id", "task_id"]
        self.init(status: status, result: object["result"] ?? .null, traceback: object["traceback"]?.stringValue,
                  children: object["children"]?.arrayValue ?? [], dateDone: object["date_done"]?.stringValue,
                  groupID: object["group_id"]?.stringValue, parentID: object["parent_id"]?.stringValue,
                  extended: JSONObject(object.pairs.filter { !known.contains($0.key) }.map { ($0.key, $0.value) }),
                  taskID: taskID)
    }

    public init?(bytes: some Collection<UInt8>) {
        guard let value = try? JSONValue.parse(bytes) else { return nil }
        self.init(json: value)
    }

    // MARK: the documents a worker writes

    public static func success(taskID: String, result: JSONValue, parentID: String? = nil, at date: Date = Date()) -> ResultDocument {
        ResultDocument(status: .success, result: result, dateDone: CeleryDate.format(date), parentID: parentID, taskID: taskID)
    }

    public static func failure(taskID: String, exception: ExceptionInfo, traceback: String?, parentID: String? = nil,
                               at date: Date = Date()) -> ResultDocument {
        ResultDocument(status: .failure, result: exception.json, traceback: traceback, dateDone: CeleryDate.format(date),
                       parentID: parentID, taskID: taskID)
    }

    /// RETRY: the exception, and `children` holding the retry's own result `[[id, parent], null]`; no date.
    public static func retry(taskID: String, exception: ExceptionInfo, traceback: String?, parentID: String? = nil) -> ResultDocument {
        ResultDocument(status: .retry, result: exception.json, traceback: traceback,
                       children: [[[.string(taskID), parentID.map { .string($0) } ?? .null], nil]],
                       parentID: parentID, taskID: taskID)
    }

    public static func revoked(taskID: String, reason: String, at date: Date = Date()) -> ResultDocument {
        ResultDocument(status: .revoked,
                       result: ExceptionInfo(type: "TaskRevokedError", message: reason, module: "celery.exceptions").json,
                       dateDone: CeleryDate.format(date), taskID: taskID)
    }

    /// A custom state a running task reported (Celery's `update_state`): `meta` as the result, no date.
    public static func custom(_ state: TaskState, meta: JSONValue, taskID: String, parentID: String? = nil) -> ResultDocument {
        ResultDocument(status: state, result: meta, parentID: parentID, taskID: taskID)
    }

    public static func started(taskID: String, pid: Int32, hostname: String, parentID: String? = nil) -> ResultDocument {
        ResultDocument(status: .started, result: ["pid": .int(Int64(pid)), "hostname": .string(hostname)],
                       parentID: parentID, taskID: taskID)
    }
}
