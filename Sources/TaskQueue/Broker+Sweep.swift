import Foundation
import RedisClient
import TaskProtocol

extension Broker {
    /// The visibility sweep: a Celeriac holder's message whose lease was not renewed for `lease`
    /// seconds goes back (or to the dead letters after `maxCrashes`); a Python holder's after
    /// kombu's `visibilityTimeout`. Returns how many messages it moved.
    ///
    /// Two passes, so neither kind can crowd out the other: the leases (one per message Celeriac
    /// workers hold, a short list) are checked one by one, then the index is read for entries past
    /// `visibilityTimeout`. The candidates are read first, their target lists and records computed
    /// here, and `RestoreStale` moves each only if nothing changed in between.
    public func restoreStale(lease: Double, visibilityTimeout: Double, maxCrashes: Int = 3, now: Date = Date(),
                             limit: Int = 100) async throws -> Int {
        let leaseCutoff = now.timeIntervalSince1970 - lease
        let visibilityCutoff = now.timeIntervalSince1970 - visibilityTimeout
        let index = RedisArgument(KeySpace.unackedIndex)
        let read = try await redis.pipeline([
            ["HGETALL", RedisArgument(keys.leases)],
            ["ZRANGE", index, "-inf", RedisArgument(visibilityCutoff), "BYSCORE", "LIMIT", "0", RedisArgument(limit)],
        ]).map { try $0.throwingError(command: "sweep read") }
        let held = read[0].fields
        var candidates: [RestoreStale.Candidate] = []
        var orphans: [String] = []
        if !held.isEmpty {
            let tags = Array(held.keys)
            let scores = try await redis.send(["ZMSCORE", index] + tags.map { RedisArgument($0) }).array ?? []
            for (tag, score) in zip(tags, scores) {
                guard let score = score.string.flatMap(Double.init) else { orphans.append(tag); continue }
                if score <= leaseCutoff, candidates.count < limit {
                    candidates.append(.init(tag: tag, owner: held[tag] ?? "", cutoff: leaseCutoff))
                }
            }
        }
        let leased = Set(candidates.map(\.tag))
        for tag in (read[1].array ?? []).compactMap(\.string) where !leased.contains(tag) && candidates.count < limit {
            candidates.append(.init(tag: tag, owner: held[tag] ?? "", cutoff: visibilityCutoff))
        }
        guard !candidates.isEmpty || !orphans.isEmpty else { return 0 }
        if !candidates.isEmpty {
            let entries = try await redis.send(["HMGET", RedisArgument(KeySpace.unacked)] + candidates.map { RedisArgument($0.tag) })
            for (i, entry) in (entries.array ?? []).enumerated() where i < candidates.count {
                guard let (list, id) = heldEntryTarget(entry.bytes) else { continue }
                candidates[i].list = list
                candidates[i].record = id.map(keys.taskRecord)
            }
        }
        let reply = try await RestoreStale(unacked: KeySpace.unacked, unackedIndex: KeySpace.unackedIndex, leases: keys.leases,
                                           crashes: keys.crashes, deadLetters: keys.deadLetters, candidates: candidates,
                                           orphanLeases: orphans, maxCrashes: maxCrashes, at: CeleryDate.format(now)).run(on: redis)
        return Int(reply.integer ?? 0)
    }

    /// Where a held message (kombu's `[envelope, exchange, routing key]`) goes back to, and its task
    /// id; nil when the entry is not that shape (it is released, not restored, as before).
    func heldEntryTarget(_ bytes: [UInt8]?) -> (list: String, taskID: String?)? {
        guard let bytes, let entry = (try? JSONValue.parse(bytes))?.arrayValue,
              let envelope = entry.first?.objectValue else { return nil }
        let properties = envelope["properties"]?.objectValue
        let queue = (entry.count > 2 ? entry[2].stringValue : nil)
            ?? properties?["delivery_info"]?.objectValue?["routing_key"]?.stringValue ?? "celery"
        let id = envelope["headers"]?.objectValue?["id"]?.stringValue
        return (keys.bands.listName(queue: queue, priority: Self.priority(properties?["priority"])), id)
    }

    /// A priority as kombu's Redis transport reads it: a number (or numeric string), else 0.
    static func priority(_ value: JSONValue?) -> Int {
        guard let number = value?.doubleValue ?? value?.stringValue.flatMap(Double.init), number.isFinite else { return 0 }
        return Int(min(max(number, 0), 9).rounded(.down))
    }
}
