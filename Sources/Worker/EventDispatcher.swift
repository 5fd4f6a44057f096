import Foundation
import Glibc
import TaskProtocol
import TaskQueue

/// Celery's monitoring events from one worker, for Flower and `celery events`: worker events
/// (online, heartbeat, offline) are published at once; task events, with `-E`, are buffered and
/// flushed together as a `task.multi` batch, as Celery's worker does. Every event carries the
/// worker's Lamport clock. Monitoring is best effort: a failed publish is dropped, never retried.
final class EventDispatcher: Sendable {
    private let broker: Broker
    private let hostname: String
    private let database: Int
    private let pid = Int(getpid())
    private let state: Protected<(clock: Int, buffer: [JSONValue], taskEvents: Bool)>
    /// Rung when the buffer gets its first event: the flusher sleeps until then.
    private let queued = Alarm()

    init(broker: Broker, hostname: String, sendsTaskEvents: Bool) {
        self.broker = broker
        self.hostname = hostname
        self.database = broker.database
        self.state = Protected((0, [], sendsTaskEvents))
    }

    /// Whether task events are sent (`-E`, or remote control's `enable_events`/`disable_events`).
    var sendsTaskEvents: Bool {
        get { state.withLock { $0.taskEvents } }
        set { state.withLock { $0.taskEvents = newValue } }
    }

    /// The Lamport clock, advanced: for events and remote-control replies.
    func next() -> Int { state.withLock { $0.clock += 1; return $0.clock } }

    /// `worker-online`, `worker-heartbeat`, `worker-offline`.
    func worker(_ type: String, fields: JSONObject = [:]) async {
        let body = CeleryEvent.body(type: type, hostname: hostname, pid: pid, clock: next(), fields: fields)
        let routingKey = type.replacingOccurrences(of: "-", with: ".")
        await publish(body, routingKey: routingKey)
    }

    /// A `task-*` event, buffered until the next `flush` (only with `-E`).
    func task(_ type: String, _ fields: @autoclosure () -> JSONObject) {
        guard sendsTaskEvents else { return }  // without -E, not even the fields are built
        let fields = fields()
        let first = state.withLock { s -> Bool in
            guard s.taskEvents else { return false }
            // A monitor is best effort: while Redis is away the buffer keeps the newest 10,000.
            if s.buffer.count >= 10_000 { s.buffer.removeFirst(s.buffer.count - 9_999) }
            s.clock += 1
            s.buffer.append(CeleryEvent.body(type: type, hostname: hostname, pid: pid, clock: s.clock, fields: fields))
            return s.buffer.count == 1
        }
        if first { queued.ring() }
    }

    /// Until cancelled: waits for a queued task event, lets 100 ms of them gather (Celery's worker
    /// flushes its buffer as often), and publishes them as one batch. Idle costs nothing.
    func flushWhenQueued() async {
        while !Task.isCancelled {
            await queued.sleep(upTo: nil)
            if Task.isCancelled { return }  // the worker's own last flush takes what is left
            try? await Task.sleep(nanoseconds: 100_000_000)
            if Task.isCancelled { return }
            await flush()
        }
    }

    /// Publishes the buffered task events as one `task.multi` batch.
    func flush() async {
        let batch = state.withLock { s -> [JSONValue] in
            defer { s.buffer.removeAll(keepingCapacity: true) }
            return s.buffer
        }
        guard !batch.isEmpty else { return }
        await publish(.array(batch), routingKey: "task.multi")
    }

    private func publish(_ body: JSONValue, routingKey: String) async {
        let envelope = CeleryEvent.envelope(body: body, hostname: hostname, routingKey: routingKey)
        let channel = CeleryEvent.channel(database: database, routingKey: routingKey)
        try? await broker.publishEvent(envelope, channel: channel)
    }
}
