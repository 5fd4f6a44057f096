import Foundation
import TaskProtocol

/// One page request of the task history (`GET /tasks`), already validated; every filter optional.
public struct HistoryQuery: Sendable, Equatable {
    /// The record's state (one of `TaskIndex.buckets`, or a custom state, looked up under STARTED).
    public var state: String?
    /// The task name.
    public var task: String?
    /// The queue it was submitted to or fetched from.
    public var queue: String?
    /// The worker that received it last.
    public var worker: String?
    /// Earliest submission (or first sight) time, inclusive.
    public var since: Date?
    /// Latest submission (or first sight) time, inclusive.
    public var until: Date?
    /// A case-insensitive substring of the task id.
    public var search: String?
    /// Most items on the page.
    public var limit: Int
    /// Where the previous page stopped; nil for the newest.
    public var cursor: HistoryCursor?
    /// Most index members one page examines before it returns what it found with a cursor (a rare
    /// combination of filters answers in bounded time, in several pages).
    public var scanBudget: Int

    /// A query for the newest `limit` tasks, with no filter.
    public init(limit: Int = 50, scanBudget: Int = 5_000) {
        self.limit = limit
        self.scanBudget = scanBudget
    }
}

/// A position in the history, newest first: the last task a page examined (its index score, in epoch
/// milliseconds, and its id). Positions are stable while tasks are added (new ones score higher) and
/// removed. Opaque to clients: `encoded` is URL-safe base64 of `v1 score id`.
public struct HistoryCursor: Sendable, Equatable {
    /// The index score of the last task examined.
    public var score: Double
    /// Its id (ties on the score are ordered by id, as Redis orders them).
    public var id: String

    /// A position at `score` and `id`.
    public init(score: Double, id: String) {
        self.score = score
        self.id = id
    }

    /// The opaque string a client sends back.
    public var encoded: String {
        Data("v1 \(Int64(score)) \(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes what `encoded` gave; nil for anything else.
    public init?(encoded: String) {
        guard encoded.count <= 400 else { return nil }
        var text = encoded.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        guard let data = Data(base64Encoded: text), let plain = String(data: data, encoding: .utf8) else { return nil }
        let parts = plain.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let score = Int64(parts[1]), !parts[2].isEmpty else { return nil }
        self.init(score: Double(score), id: String(parts[2]))
    }
}

/// One page of the history: the tasks found, newest first, and where the next page starts (nil at the end).
public struct HistoryPage: Sendable {
    /// One task on a page: its id, index score (epoch ms) and record.
    public struct Item: Sendable {
        /// The task id.
        public var id: String
        /// When it was submitted (or first seen by a worker), epoch milliseconds.
        public var score: Double
        /// Its record as stored.
        public var record: TaskRecord
    }

    /// The tasks, newest first.
    public var items: [Item]
    /// Where the next page starts; nil when none is left.
    public var next: HistoryCursor?
}
