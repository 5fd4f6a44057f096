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
    public init(limit: Int = 50, scanBudget: Int = 2_000) {
        self.limit = limit
        self.scanBudget = scanBudget
    }
}

/// A position in the history, newest first: the last task a page examined (its index score, in epoch
/// milliseconds, and its id). Positions are stable while tasks are added (new ones score higher) and
/// removed. Opaque to clients: `encoded` is `v1.<score>.<id in hex>`, and every string of that shape
/// is a valid position (so a client can only go wrong by inventing one, never crash a page).
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
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in id.utf8 { hex += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return "v1.\(Int64(score)).\(String(decoding: hex, as: UTF8.self))"
    }

    /// Decodes what `encoded` gave; nil for anything else.
    public init?(encoded: String) {
        let parts = encoded.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", parts[1].count <= 16, let score = Int64(parts[1]), score >= 0 else { return nil }
        let hex = Array(parts[2].utf8)
        guard !hex.isEmpty, hex.count % 2 == 0, hex.count <= 400 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        for k in stride(from: 0, to: hex.count, by: 2) {
            guard let high = nibble(hex[k]), let low = nibble(hex[k + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.init(score: Double(score), id: String(decoding: bytes, as: UTF8.self))
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
