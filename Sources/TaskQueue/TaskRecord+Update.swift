import Foundation
import TaskProtocol

extension TaskRecord {
    /// One transition of a task record. Each transition has exactly one constructor here, the only
    /// place its fields are named; the scripts and transactions that write records take an `Update`.
    public struct Update: Sendable {
        /// The state the record moves to; nil leaves it (the result store sets the document's state).
        public var state: TaskState?
        /// Fields set with the transition.
        public var fields: [(Field, String)]
        /// Added to `attempts` (a start counts one, a hand-back takes it back).
        public var attemptsDelta: Int

        init(state: TaskState? = nil, _ fields: [(Field, String)], attemptsDelta: Int = 0) {
            self.state = state
            self.fields = fields
            self.attemptsDelta = attemptsDelta
        }

        /// Field/value pairs to HSET, the state first when there is one.
        var pairs: [(Field, String)] {
            guard let state else { return fields }
            var pairs: [(Field, String)] = []
            pairs.reserveCapacity(fields.count + 1)
            pairs.append((.state, state.rawValue))
            pairs.append(contentsOf: fields)
            return pairs
        }

        /// Accepted into a queue (`POST /tasks`, `celeriac submit`, a chain's next step).
        public static func submitted(_ message: TaskMessage, at now: Date) -> Update {
            submitted(message, stamp: CeleryDate.format(now))
        }

        /// The same, with the time already formatted (a group's members share one submission time).
        public static func submitted(_ message: TaskMessage, stamp: String) -> Update {
            submitted(task: message.task, queue: message.queue, retries: message.retries,
                      argsRepr: message.headers["argsrepr"]?.stringValue ?? PythonRepr.tuple(message.args),
                      kwargsRepr: message.headers["kwargsrepr"]?.stringValue ?? PythonRepr.dict(message.kwargs),
                      groupID: message.groupID, stamp: stamp)
        }

        /// The same for a message built encoded only (a group's member).
        public static func submitted(_ message: TaskMessage.Encoded, stamp: String) -> Update {
            submitted(task: message.task, queue: message.queue, retries: message.retries, argsRepr: message.argsRepr,
                      kwargsRepr: message.kwargsRepr, groupID: message.groupID, stamp: stamp)
        }

        private static func submitted(task: String, queue: String, retries: Int, argsRepr: String, kwargsRepr: String,
                                      groupID: String?, stamp: String) -> Update {
            var fields: [(Field, String)] = [(.name, task), (.queue, queue), (.submittedAt, stamp), (.retries, String(retries)),
                                             (.args, TaskRecord.clipped(argsRepr)), (.kwargs, TaskRecord.clipped(kwargsRepr))]
            if let groupID { fields.append((.group, groupID)) }
            return Update(state: .pending, fields)
        }

        /// Taken by `worker`: STARTED when a slot runs it now, RECEIVED when it waits in the prefetch buffer.
        public static func received(name: String, queue: String, retries: Int, worker: String, at now: Date,
                                    startedNow: Bool) -> Update {
            received(name: name, queue: queue, retries: retries, worker: worker, stamp: CeleryDate.format(now),
                     startedNow: startedNow)
        }

        /// The same, with the time already formatted (a fetched batch shares one).
        public static func received(name: String, queue: String, retries: Int, worker: String, stamp at: String,
                                    startedNow: Bool) -> Update {
            Update(state: startedNow ? .started : .received,
                   [(.name, name), (.queue, queue), (.worker, worker), (.receivedAt, at)]
                       + (startedNow ? [(.startedAt, at)] : []) + [(.retries, String(retries))],
                   attemptsDelta: 1)
        }

        /// A prefetched task began running (written only while the record still says RECEIVED).
        public static func started(at: Date) -> Update {
            Update(state: .started, [(.startedAt, CeleryDate.format(at))])
        }

        /// Reported a custom state while running (`TaskContext.progress`); `startedAt` when no write said STARTED yet.
        public static func progressed(_ state: TaskState, startedAt: Date?) -> Update {
            Update(state: state, startedAt.map { [(.startedAt, CeleryDate.format($0))] } ?? [])
        }

        /// Given back to its queue at shutdown before it ran: this attempt does not count.
        public static let handedBack = Update(state: .pending, [], attemptsDelta: -1)

        /// Ran to an outcome (stored with the result document, whose state the record takes).
        /// `runtime` also dates the start; `error` is the exception's repr for a failure.
        public static func finished(at now: Date, runtime: Double? = nil, error: String? = nil) -> Update {
            var fields: [(Field, String)] = [(.finishedAt, CeleryDate.format(now))]
            if let runtime {
                fields += [(.runtime, String(runtime)), (.startedAt, CeleryDate.format(now.addingTimeInterval(-runtime)))]
            }
            if let error { fields.append((.error, error)) }
            return Update(fields)
        }

        /// Never ran (expired, revoked, unregistered), so its name and queue are recorded here.
        public static func discarded(_ message: TaskMessage, at now: Date, error: String? = nil) -> Update {
            Update([(.name, message.task), (.queue, message.queue), (.finishedAt, CeleryDate.format(now))]
                   + (error.map { [(.error, $0)] } ?? []))
        }

        /// Will run again: the next attempt's retry count.
        public static func retried(retries: Int) -> Update { Update([(.retries, String(retries))]) }

        /// Could not be run at all and waits in the dead-letter list.
        public static func deadLettered(name: String?, queue: String, error: String, at now: Date) -> Update {
            Update([(.name, name ?? ""), (.queue, queue), (.error, error), (.deadLetter, "1"),
                    (.finishedAt, CeleryDate.format(now))])
        }

        /// Revoked (`DELETE /tasks/{id}`, `celeriac revoke`, Celery's revoke).
        public static func revoked(at now: Date) -> Update {
            Update(state: .revoked, [(.revokedAt, CeleryDate.format(now))])
        }
    }
}
