import Foundation
import Logging
import Synchronization
import TaskProtocol
import TaskQueue

/// This API process's feed of Celery's events (`GET /events`): one pub/sub subscription to every
/// `celeryev` channel of the database (Celeriac's and Python's `-E` workers alike), started by the
/// first client, fanned out to every client's stream.
///
/// Resumption: the last `ringSize` events stay in memory, numbered `<boot>-<seq>` (`boot` is random
/// per hub, `seq` counts up). A client sending `Last-Event-ID` of this hub still in the ring gets
/// what it missed; any other id (another process, a restart, too old, a gap while Redis was away)
/// gets an `event: reset` first and then live events. Bounded: a client whose buffer
/// (`clientBuffer` events) overflows is ended — it reconnects with its Last-Event-ID and replays.
public final class EventHub: Sendable {
    /// Bounds and timings, with documented defaults.
    public struct Configuration: Sendable {
        /// Events kept for `Last-Event-ID`. Default 1,000.
        public var ringSize = 1_000
        /// Events queued for one slow client before it is ended. Default 2,000 (a whole ring replay fits).
        public var clientBuffer = 2_000
        /// Seconds between `: keepalive` comments. Default 15.
        public var keepaliveSeconds = 15.0
        /// The documented defaults.
        public init() {}
    }

    /// One event as streams send it.
    struct Event: Sendable {
        var seq: UInt64
        var type: String
        var data: [UInt8]
    }

    /// What a client's stream carries.
    enum Item: Sendable {
        case event(Event)
        case reset(String)
        case keepalive
    }

    struct State {
        var ring: [Event?]
        var seq: UInt64 = 0
        /// Events up to this seq may be missing (the subscription was lost): ids below are not resumable.
        var gap: UInt64 = 0
        var clients: [Int: AsyncStream<Item>.Continuation] = [:]
        var nextClient = 0
        var started = false
        var closed = false
        var subscriber: Broker.Subscriber?
        var tasks: [Task<Void, Never>] = []
    }

    /// The random prefix of this hub's event ids.
    public let boot: String
    let broker: Broker
    let configuration: Configuration
    let logger: Logger
    let state: Mutex<State>

    /// A hub on `broker`'s Redis; it subscribes when the first client comes.
    public init(broker: Broker, configuration: Configuration = Configuration(), logger: Logger) {
        self.broker = broker
        self.configuration = configuration
        self.logger = logger
        boot = String(TaskMessage.newID().filter(\.isHexDigit).prefix(8))
        state = Mutex(State(ring: Array(repeating: nil, count: max(1, configuration.ringSize))))
    }

    /// A new client's stream: the events after `lastEventID` when the ring still has them (else a
    /// reset first, when an id was given), then live ones. `id` ends it early with `remove`.
    func subscribe(lastEventID: String?) -> (id: Int, stream: AsyncStream<Item>) {
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(max(1, configuration.clientBuffer)))
        let (id, start) = state.withLock { state -> (Int, Bool) in
            let id = state.nextClient
            state.nextClient += 1
            if state.closed {
                continuation.finish()
                return (id, false)
            }
            if let lastEventID {
                if let replay = replay(after: lastEventID, in: state) {
                    for event in replay { continuation.yield(.event(event)) }
                } else {
                    continuation.yield(.reset("event id '\(lastEventID.prefix(80))' cannot be resumed here; showing live events"))
                }
            }
            state.clients[id] = continuation
            defer { state.started = true }
            return (id, !state.started)
        }
        continuation.onTermination = { [weak self] _ in self?.remove(id) }
        if start { startListening() }
        return (id, stream)
    }

    /// Ends a client's stream (a timeout, a disconnect).
    func remove(_ id: Int) {
        state.withLock { $0.clients.removeValue(forKey: id) }?.finish()
    }

    /// The ring's events after `id`, nil when `id` is not resumable here.
    func replay(after id: String, in state: State) -> [Event]? {
        let parts = id.split(separator: "-")
        guard parts.count == 2, parts[0] == boot, let seq = UInt64(parts[1]), seq <= state.seq, seq >= state.gap else { return nil }
        let oldest = state.seq >= UInt64(state.ring.count) ? state.seq - UInt64(state.ring.count) + 1 : 1
        guard seq + 1 >= oldest else { return nil }
        return (seq + 1 > state.seq ? [] : Array(seq + 1...state.seq)).compactMap { state.ring[Int($0 % UInt64(state.ring.count))] }
    }

    /// Numbers, keeps and fans out the events of one `celeryev` message (runs on the Redis loop: short).
    func receive(_ payload: [UInt8]) {
        let events = CeleryEvent.events(inEnvelope: payload)
        guard !events.isEmpty else { return }
        let lagging = state.withLock { state in
            var lagging: [AsyncStream<Item>.Continuation] = []
            for body in events {
                state.seq += 1
                let event = Event(seq: state.seq, type: body["type"]?.stringValue ?? "", data: body.serializedBytes())
                state.ring[Int(state.seq % UInt64(state.ring.count))] = event
                for (id, continuation) in state.clients {
                    if case .dropped = continuation.yield(.event(event)) {
                        // Too slow: its oldest events are gone, so end it; it resumes by Last-Event-ID.
                        state.clients.removeValue(forKey: id)
                        lagging.append(continuation)
                    }
                }
            }
            return lagging
        }
        // Outside the lock: finishing runs the stream's onTermination, which takes it again.
        for continuation in lagging { continuation.finish() }
    }

    /// Ends every stream and the subscription (the API's shutdown); later clients end at once.
    public func close() {
        let (clients, subscriber, tasks) = state.withLock { state in
            state.closed = true
            defer { state.clients = [:]; state.tasks = [] }
            return (Array(state.clients.values), state.subscriber, state.tasks)
        }
        for client in clients { client.finish() }
        subscriber?.close(reason: "api shutting down")
        for task in tasks { task.cancel() }
    }
}
