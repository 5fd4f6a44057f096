/// kombu's emulation of priorities on Redis: one list per priority step.
///
/// A priority maps to the largest step ≤ it; step 0 is the bare queue name, step s is
/// `queue + sep + "s"`. Consumers pop the bands lowest step first, so on Redis **0 is the highest
/// priority** (the opposite of RabbitMQ). Producers and consumers must agree on `steps` and `separator`.
public struct PriorityBands: Sendable, Equatable {
    public var steps: [Int]
    public var separator: String

    /// kombu's defaults: steps `[0, 3, 6, 9]`, separator `"\u{06}\u{16}"`.
    public static let kombuDefault = PriorityBands(steps: [0, 3, 6, 9], separator: "\u{06}\u{16}")

    public init(steps: [Int], separator: String) {
        self.steps = steps.sorted()
        self.separator = separator
    }

    /// The list a message of `priority` goes to (nil counts as 0; clamped to 0...9).
    public func listName(queue: String, priority: Int?) -> String {
        let p = min(max(priority ?? 0, 0), 9)
        let step = steps.last(where: { $0 <= p }) ?? 0
        return step == 0 ? queue : queue + separator + String(step)
    }

    /// Every list of `queue`, in pop order.
    public func allLists(queue: String) -> [String] {
        steps.map { $0 == 0 ? queue : queue + separator + String($0) }
    }
}
