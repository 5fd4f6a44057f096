import TaskProtocol

extension TaskAPI {
    /// The 202 body of a new group, `{"id", "state", "size", "tasks": [{"id", "task", "state"}, …],
    /// "callback", "status_url"}`, written straight as bytes: the same text as serializing the
    /// `JSONValue`, without a thousand small objects built and freed on the way.
    static func acceptedGroup<Members: Sequence>(id: String, members: Members, size: Int, callback: (id: String, task: String)?)
        -> [UInt8] where Members.Element == (String, String) {
        var out: [UInt8] = []
        out.reserveCapacity(200 + size * 110)
        func text(_ literal: StaticString) {
            out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        func task(_ id: String, _ name: String) {
            text(#"{"id": "#)
            JSONValue.string(id).write(to: &out)
            text(#", "task": "#)
            JSONValue.string(name).write(to: &out)
            text(#", "state": "PENDING"}"#)
        }
        text(#"{"id": "#)
        JSONValue.string(id).write(to: &out)
        text(#", "state": "PENDING", "size": "#)
        JSONValue.int(Int64(size)).write(to: &out)
        text(#", "tasks": ["#)
        var first = true
        for (memberID, name) in members {
            if !first { text(", ") }
            first = false
            task(memberID, name)
        }
        text(#"], "callback": "#)
        if let callback { task(callback.id, callback.task) } else { text("null") }
        text(#", "status_url": "#)
        JSONValue.string("/groups/\(id)").write(to: &out)
        text("}")
        return out
    }
}
