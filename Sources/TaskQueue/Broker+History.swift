import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// The record fields a history page shows (and checks its filters against).
    static let historyFields: [TaskRecord.Field] = [.name, .state, .queue, .worker, .submittedAt, .receivedAt, .startedAt,
                                                    .finishedAt, .runtime, .retries]

    /// A page of the task history, newest first (`TaskIndex`). The most selective filter's set is
    /// walked (the smallest by ZCARD; `all` when no filter has a set: none, or only a PENDING or
    /// SUCCESS state, `TaskIndex.unsetStates`), from the cursor down to `since`;
    /// each member's record is read and checked against every filter (a member whose record
    /// expired is skipped). The walk stops when the page is full or `scanBudget` members were
    /// examined; then the cursor says where to go on.
    public func history(_ query: HistoryQuery) async throws -> HistoryPage {
        let key = try await historySet(query)
        let minScore = query.since.map { String(TaskIndex.score($0)) } ?? "-inf"
        var maxScore = query.until.map(TaskIndex.score)
        var skipFrom: String? = nil  // at score == maxScore, members >= this id were seen already
        if let cursor = query.cursor {
            maxScore = min(maxScore ?? .infinity, cursor.score)
            if maxScore == cursor.score { skipFrom = cursor.id }
        }
        var offset = 0
        var examined = 0
        var items: [HistoryPage.Item] = []
        var last: HistoryCursor?
        let batch = query.state == nil && query.task == nil && query.queue == nil && query.worker == nil && query.search == nil
            ? query.limit + 1 : max(200, query.limit * 4)
        let search = query.search?.lowercased()
        while examined < query.scanBudget {
            let count = min(batch, query.scanBudget - examined)
            let reply = try await redis.send(["ZREVRANGEBYSCORE", RedisArgument(key),
                                              RedisArgument(maxScore.map { String(Int64($0)) } ?? "+inf"), RedisArgument(minScore),
                                              "WITHSCORES", "LIMIT", RedisArgument(offset), RedisArgument(count)])
                .throwingError(command: "ZREVRANGEBYSCORE")
            let members = Self.scored(reply)
            if members.isEmpty { return HistoryPage(items: items, next: nil) }
            let fresh = members.filter { member in
                !(member.score == maxScore && skipFrom.map { Array(member.id.utf8).lexicographicallyPrecedes(Array($0.utf8)) == false } ?? false)
            }
            let wanted = fresh.filter { search == nil || $0.id.lowercased().contains(search!) }
            let records = try await historyRecords(wanted.map(\.id))
            for (member, record) in zip(wanted, records) {
                guard let record, Self.matches(record, query) else { continue }
                items.append(.init(id: member.id, score: member.score, record: record))
                if items.count == query.limit {
                    let cut = HistoryCursor(score: member.score, id: member.id)
                    let more = member.id != members.last?.id || members.count == count
                    return HistoryPage(items: items, next: more ? cut : nil)
                }
            }
            examined += fresh.count
            let end = members[members.count - 1]
            last = HistoryCursor(score: end.score, id: end.id)
            if members.count < count { return HistoryPage(items: items, next: nil) }
            // Walk on below the last member: same score, skip what was seen; lower, start there.
            if end.score == maxScore {
                offset += members.count
            } else {
                maxScore = end.score
                skipFrom = end.id
                offset = members.filter { $0.score == end.score }.count
            }
        }
        return HistoryPage(items: items, next: last)
    }

    /// The set a query walks: its only filter's, or the smallest of its filters' (one ZCARD each);
    /// `all` when none has a set.
    func historySet(_ query: HistoryQuery) async throws -> String {
        let sets = [query.state.flatMap(keys.stateIndex), query.task.map(keys.taskNameIndex), query.queue.map(keys.queueIndex),
                    query.worker.map(keys.workerIndex)].compactMap { $0 }
        guard sets.count > 1 else { return sets.first ?? keys.taskIndex }
        let sizes = try await redis.pipeline(sets.map { ["ZCARD", RedisArgument($0)] })
        return zip(sets, sizes).min { ($0.1.integer ?? 0) < ($1.1.integer ?? 0) }!.0
    }

    /// The records of `ids` (the fields a page shows), nil for one that expired; one round trip.
    func historyRecords(_ ids: [String]) async throws -> [TaskRecord?] {
        guard !ids.isEmpty else { return [] }
        let names = Self.historyFields.map { RedisArgument($0.rawValue) }
        let replies = try await redis.pipeline(ids.map { ["HMGET", RedisArgument(keys.taskRecord($0))] + names })
        return try replies.map { reply in
            let values = try reply.throwingError(command: "HMGET").array ?? []
            var fields: [String: String] = [:]
            for (field, value) in zip(Self.historyFields, values) { if let text = value.string { fields[field.rawValue] = text } }
            return fields.isEmpty ? nil : TaskRecord(fields: fields)
        }
    }

    /// True when the record passes every filter of the query (the walked set's own included: an
    /// index entry may lag its record).
    static func matches(_ record: TaskRecord, _ query: HistoryQuery) -> Bool {
        (query.state == nil || record[.state] == query.state) && (query.task == nil || record.name == query.task)
            && (query.queue == nil || record.queue == query.queue) && (query.worker == nil || record.worker == query.worker)
    }

    /// A WITHSCORES reply as (id, score) pairs.
    static func scored(_ reply: RESPValue) -> [(id: String, score: Double)] {
        let items = reply.array ?? []
        return stride(from: 0, to: items.count - 1, by: 2).compactMap { k in
            guard let id = items[k].string, let score = items[k + 1].string.flatMap(Double.init) else { return nil }
            return (id, score)
        }
    }
}
