import Sockets

/// The event-loop turn a caller runs in, for work batched per turn (several handlers' submissions in one
/// script call) without its users depending on `Sockets`: it leaves at the turn's end, as Redis writes do.
public struct LoopTurn: Sendable {
    let loop: EventLoop

    /// The turn of the loop whose thread calls this; nil off a loop (a worker's task, a test).
    public static var current: LoopTurn? { EventLoop.current.map(LoopTurn.init) }

    /// Names the loop, for batches kept per loop.
    public var id: ObjectIdentifier { ObjectIdentifier(loop) }

    /// Runs `action` at the end of this turn, on the loop thread (call it from that thread).
    public func atEnd(_ action: @escaping () -> Void) { loop.atEndOfTurn(action) }

    /// The loop as an executor: a task preferring it is resumed by the loop's replies with no thread hop.
    public var executor: any TaskExecutor { loop }
}
