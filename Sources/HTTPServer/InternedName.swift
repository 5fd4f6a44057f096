import Synchronization

/// A string made once (a route pattern, a scope name) and named on the per-request path by a small
/// number, so that `RouteAccess` and `MatchedRoute` hold no reference: copying one to each middleware
/// costs no reference counting. Names are interned at start-up (routes are added then) and kept for
/// the process's life; the same text always gets the same number.
struct InternedName: Sendable, Hashable, BitwiseCopyable {
    /// The name's number; the first name interned is 0.
    let id: Int32

    private static let table = Mutex<(ids: [String: Int32], names: [String])>(([:], []))

    /// The number of `text`, interning it on first use (takes a lock: not for the per-request path).
    init(_ text: String) {
        id = Self.table.withLock { table in
            if let id = table.ids[text] { return id }
            let id = Int32(table.names.count)
            table.names.append(text)
            table.ids[text] = id
            return id
        }
    }

    /// The text interned as this number (takes a lock: for logs, labels and messages).
    var text: String { Self.table.withLock { $0.names[Int(id)] } }
}
