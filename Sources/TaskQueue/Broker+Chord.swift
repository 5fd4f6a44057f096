import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// One finished chord header task, as the chord keys record it.
    public struct ChordPart: Sendable {
        public var taskID: String
        public var state: TaskState
        /// The result, or the exception document of a failed or revoked part.
        public var result: JSONValue
    }

    /// What recording a chord part found.
    public enum ChordProgress: Sendable {
        /// Other parts are still running (or another worker has the callback).
        case waiting
        /// Every part is in and this worker holds the claim to send the callback: the parts in header
        /// order. Call `chordDone` with the token once the callback is out.
        case complete(parts: [ChordPart], claimToken: String)
    }

    /// Records that a chord header task finished (Celery 5.7's Redis chord protocol: parts in
    /// `celery-taskset-meta-<group>.j` scored by `group_index`, the size in `.s` set by the client).
    public func chordPartReturned(groupID: String, taskID: String, groupIndex: Int64?, state: TaskState,
                                  result: JSONValue, claimSeconds: Int = 6) async throws -> ChordProgress {
        let part = JSONValue.array([1, .string(taskID), .string(state.rawValue), result]).serialized()
        let token = TaskMessage.newID().replacingOccurrences(of: "-", with: "")
        func key(_ suffix: String) -> String { KeySpace.groupKey(groupID, suffix) }
        let reply = try await ChordPartReturn(parts: key(".j"), sizeAdjustment: key(".t"), size: key(".s"), seen: key(".d"),
                                              group: key(""), claim: key(".c"), taskID: taskID, part: part,
                                              index: groupIndex.map(String.init) ?? "+inf", chordExpiry: resultExpires,
                                              groupExpiry: resultExpires, claimSeconds: claimSeconds,
                                              claimToken: token).run(on: redis)
        guard let items = reply.array, items.count == 3, items[1].integer == 1, let encoded = items[2].array else { return .waiting }
        let parts = try encoded.map { value -> ChordPart in
            guard let bytes = value.bytes, case .array(let fields) = try JSONValue.parse(bytes), fields.count == 4,
                  let id = fields[1].stringValue, let state = fields[2].stringValue.flatMap(TaskState.init(rawValue:)) else {
                throw MessageError(field: "chord part", reason: "not [1, id, state, result]: \(String(decoding: value.bytes ?? [], as: UTF8.self))")
            }
            return ChordPart(taskID: id, state: state, result: fields[3])
        }
        return .complete(parts: parts, claimToken: token)
    }

    /// Sends what a finished task starts: each chord's size first (as Celery's client does before
    /// the header goes out), then the messages.
    public func send(_ followUps: Canvas.FollowUps) async throws {
        if !followUps.chordSizes.isEmpty {
            var commands: [[RedisArgument]] = []
            for (group, size) in followUps.chordSizes {
                // A frozen chord applied again reuses its group id: a new run, so no old 'done' mark.
                commands.append(["DEL", RedisArgument(KeySpace.groupKey(group, ".c"))])
                commands.append(["SET", RedisArgument(KeySpace.groupKey(group, ".s")), RedisArgument(size),
                                 "EX", RedisArgument(max(1, resultExpires))])
            }
            for reply in try await redis.pipeline(commands) {
                if case .error(let message) = reply { throw RedisError.server(command: "SET", message: message) }
            }
        }
        for message in followUps.messages { try await enqueue(message) }
    }

    /// The callback of a complete chord went out: drops the chord's keys, leaving a 'done' mark.
    public func chordDone(groupID: String, claimToken: String, markSeconds: Int = 300) async throws {
        func key(_ suffix: String) -> String { KeySpace.groupKey(groupID, suffix) }
        _ = try await ChordDone(claim: key(".c"), parts: key(".j"), sizeAdjustment: key(".t"), size: key(".s"), seen: key(".d"),
                                claimToken: claimToken, markSeconds: markSeconds).run(on: redis)
    }
}
