import Foundation
import Synchronization

/// Tells this process's due-task promoters that a message was (or is about to be) scheduled, and for
/// when, so that a promoter can sleep until the earliest due time it knows of instead of polling.
/// A notice may come before the write lands or for a write that then fails: a listener must treat it
/// as "look again", never as proof that something is scheduled.
public final class ScheduleNotices: Sendable {
    private let listeners = Mutex<(next: Int, handlers: [Int: @Sendable (Date) -> Void])>((0, [:]))

    /// An empty set of listeners.
    public init() {}

    /// Calls `handler` with the due time of every message scheduled through this broker; returns the
    /// id that `stopListening` takes. The handler runs on the scheduling caller's task: keep it short.
    public func listen(_ handler: @escaping @Sendable (Date) -> Void) -> Int {
        listeners.withLock { state in
            state.next += 1
            state.handlers[state.next] = handler
            return state.next
        }
    }

    /// Removes a listener.
    public func stopListening(_ id: Int) {
        _ = listeners.withLock { $0.handlers.removeValue(forKey: id) }
    }

    /// A message is scheduled for `due`.
    func post(_ due: Date) {
        let handlers = listeners.withLock { Array($0.handlers.values) }
        for handler in handlers { handler(due) }
    }
}
