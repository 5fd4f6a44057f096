/// Celery's saved `GroupResult` (`celery-taskset-meta-<id>`, what `GroupResult.save()` writes and
/// `GroupResult.restore(id)` reads): `{"result": [[id, parent], [member tuple, …]]}`, where a member
/// is `[[task id, parent], null]`, or a nested group `[[group id, parent], [members…]]`.
public struct SavedGroup: Sendable, Equatable {
    /// The group id.
    public var id: String
    /// The members' ids, in the group's order (a nested group counts as one member: its id).
    public var memberIDs: [String]

    /// A group of the tasks `memberIDs`.
    public init(id: String, memberIDs: [String]) {
        self.id = id
        self.memberIDs = memberIDs
    }

    /// Reads the stored document; nil when it is not a saved group.
    public init?(bytes: some Collection<UInt8>) {
        guard let document = try? JSONValue.parse(bytes), let tuple = document["result"]?.arrayValue, tuple.count == 2,
              let id = Self.id(of: tuple[0]), let members = tuple[1].arrayValue else { return nil }
        var ids: [String] = []
        ids.reserveCapacity(members.count)
        for member in members {
            guard let pair = member.arrayValue, pair.count == 2, let memberID = Self.id(of: pair[0]) else { return nil }
            ids.append(memberID)
        }
        self.init(id: id, memberIDs: ids)
    }

    /// `[id, parent]` (Celery 4+) or a bare id (older).
    private static func id(of node: JSONValue) -> String? {
        node.stringValue ?? node.arrayValue?.first?.stringValue
    }

    /// The document as Celery's JSON serializer writes it (`{'result': result.as_tuple()}`).
    /// Written straight as bytes (a group of thousands makes no JSON tree): the text serializing
    /// `{"result": [[id, null], [[[member, null], null], …]]}` as a `JSONValue` gives.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + memberIDs.count * 56)
        JSONValue.append(#"{"result": [["#, to: &out)
        JSONValue.writeString(id, to: &out)
        JSONValue.append(#", null], ["#, to: &out)
        for (index, member) in memberIDs.enumerated() {
            JSONValue.append(index == 0 ? "[[" : ", [[", to: &out)
            JSONValue.writeString(member, to: &out)
            JSONValue.append(", null], null]", to: &out)
        }
        JSONValue.append("]]}", to: &out)
        return out
    }
}
