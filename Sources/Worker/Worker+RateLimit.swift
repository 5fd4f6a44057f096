import Foundation
import TaskProtocol
import TaskQueue

extension Worker {
    /// The header a throttled message carries back from the scheduled set: the start the limiter
    /// reserved for it (epoch seconds), so it runs then without reserving again.
    static let rateSlotHeader = "celeriac_rate_slot"

    /// A global rate limit (Redis's, else the task's option): asks the shared limiter for a start; when
    /// it is later, the message waits in the scheduled set until then (not in this worker's memory, and
    /// no slot is held), and true is returned. A reserved start that came due runs at once.
    func throttled(_ message: TaskMessage, definition: TaskDefinition, tag: String, label: String, now: Date) async -> Bool {
        guard let limit = state.withLock({ $0.rateLimits[message.task] }) ?? definition.options.rateLimit else { return false }
        // Reserved earlier and here within half an interval of its slot: it runs. One that comes late (a
        // slow promoter, a busy machine) asks again, or late arrivals would start in a bunch; a retry
        // that copied the header much later asks again too.
        if let slot = message.headers[Self.rateSlotHeader]?.doubleValue,
           abs(now.timeIntervalSince1970 - slot) <= max(0.02, limit.interval / 2) {
            return false
        }
        do {
            let wait = try await broker.reserveRateSlot(task: message.task, limit: limit)
            guard wait > 0 else { return false }
            var parked = message
            let due = now.addingTimeInterval(wait)
            parked.headers[Self.rateSlotHeader] = .double(due.timeIntervalSince1970)
            if try await broker.schedule(parked, at: due, releasingHold: tag, leaseToken: leaseToken) {
                logger.debug("Task \(label) rate limited (\(limit)): starts in \(wait)s")
            }
            return true
        } catch {
            // The limiter is out of reach: run it rather than stall the queue (Redis is down for the result too).
            logger.warning("Task \(label): rate limiter unavailable, running it unthrottled: \(error)")
            return false
        }
    }

    /// Celery's `app.control.rate_limit(name, "10/s")`: the limit goes to Redis, for every worker at
    /// once (each worker of a broadcast writes the same value); `None` or `"0"` removes it. Celery's replies.
    func setRateLimit(_ arguments: JSONObject) async -> JSONValue {
        guard let task = arguments["task_name"]?.stringValue, registry[task] != nil else { return ["error": "unknown task"] }
        let text = arguments["rate_limit"].flatMap { $0.stringValue ?? $0.doubleValue.map { String($0) } }
        let disable = text == nil || Double(text!) == 0
        guard disable || RateLimit(text!) != nil else {
            return ["error": .string("Invalid rate limit string: \(PythonRepr.repr(.string(text!)))")]
        }
        let limit = disable ? nil : RateLimit(text!)
        do { try await broker.setRateLimit(limit, for: task) } catch {
            return ["error": .string("could not store the rate limit: \(error)")]
        }
        state.withLock { $0.rateLimits[task] = limit }
        return ["ok": .string(disable ? "rate limit disabled successfully" : "new rate limit set successfully")]
    }
}
