import Foundation
import TaskProtocol
import TaskQueue

extension Beat {
    /// One pass at `now`: take or renew the lease, then, while leading, publish each schedule's
    /// latest due tick not yet published. The clock is an argument so tests run passes at frozen times.
    public func pass(now: Date) async throws -> [Sent] {
        guard try await lead() else { return [] }
        let definitions = try await broker.schedules()
        let lastTicks = try await broker.scheduleLastTicks()
        var sent: [Sent] = []
        for (name, text) in definitions.sorted(by: { $0.key < $1.key }) {
            guard let schedule = decode(name, text) else { continue }
            let reference: Date
            if let last = lastTicks[name] {
                reference = Date(timeIntervalSince1970: last)
            } else {
                reference = Date(timeIntervalSince1970: try await broker.armSchedule(name, at: now))
            }
            guard let due = schedule.latestDue(after: reference, now: now), let token else { continue }
            var options = TaskMessage.Options()
            options.queue = schedule.queue
            var message = TaskMessage.make(task: schedule.task, args: schedule.args, kwargs: schedule.kwargs, options: options)
            let tickID = schedule.tickID(due: due)
            // An extra header (Celery keeps unknown headers on the request): who reads the queue sees the tick.
            message.headers["celeriac_tick"] = .string(tickID)
            let outcome = try await broker.publishTick(message, tickID: tickID, schedule: name, due: due, token: token, now: now)
            switch outcome {
            case .published:
                logger.info("Scheduler: Sending due task \(name) (\(schedule.task))", metadata: ["tick.id": "\(tickID)"])
            case .duplicate(let id):
                logger.debug("Scheduler: tick \(tickID) was sent before as \(id)")
            case .notLeader:
                logger.warning("beat: lost the lease; standing by")
                self.token = nil
                return sent
            }
            sent.append(Sent(schedule: name, tickID: tickID, outcome: outcome))
        }
        return sent
    }

    /// Takes or renews the lease; logs changes of leadership.
    func lead() async throws -> Bool {
        let held = try await broker.acquireBeatLease(owner: configuration.owner, seconds: configuration.lease)
        if held != token {
            if let held {
                logger.info("beat: leading with lease \(held) (\(configuration.lease) s)")
            } else {
                logger.warning("beat: lost the lease; standing by")
            }
        }
        setToken(held)
        return held != nil
    }

    func setToken(_ value: String?) { token = value }

    /// Seconds to the next due time of any schedule, at most one pass interval.
    func nextWait(now: Date) async -> Double {
        var wait = configuration.passInterval
        guard token != nil, let definitions = try? await broker.schedules() else { return wait }
        for (name, text) in definitions {
            if let due = decode(name, text)?.nextDue(after: now) { wait = min(wait, max(0.01, due.timeIntervalSince(now))) }
        }
        return wait
    }

    /// A stored definition, nil (logged once) when it is not valid.
    func decode(_ name: String, _ text: String) -> PeriodicSchedule? {
        do {
            return try PeriodicSchedule(name: name, json: try JSONValue.parse(text))
        } catch {
            if !invalidNames.contains(name) { logger.error("beat: schedule \(name) is not valid, skipped: \(error)") }
            markInvalid(name)
            return nil
        }
    }
}
