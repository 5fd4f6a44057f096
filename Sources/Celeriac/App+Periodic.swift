import Beat
import Foundation
import TaskProtocol

/// Periodic tasks defined in code: stored in Redis by every beat at start-up (`celeriac beat`,
/// `worker -B`), next to those added over HTTP.
///
/// ```swift
/// app.periodic(name: "cleanup", every: 300, task: "myapp.cleanup")
/// app.periodic(name: "report", cron: "0 9 * * 1-5", timezone: "Europe/Berlin", task: "myapp.report")
/// ```
extension App {
    /// Sends `task` every `every` seconds (at the multiples of it since the Unix epoch); only
    /// `options.queue` is used. A bad value is reported at start-up.
    public func periodic(name: String, every: Double, task: String, args: [JSONValue] = [], kwargs: JSONObject = [:],
                         options: TaskMessage.Options = TaskMessage.Options()) {
        var json = PeriodicSchedule(name: name, task: task, args: args, kwargs: kwargs, queue: options.queue, rule: .every(1)).json
        if case .object(var object) = json {
            object["every"] = every.isFinite && every == every.rounded() && abs(every) < 1e15 ? .int(Int64(every)) : .double(every)
            json = .object(object)
        }
        addPeriodic(name: name, json: json)
    }

    /// Sends `task` at the times a 5-field cron expression names in `timezone` (an IANA identifier);
    /// only `options.queue` is used. A bad expression or zone is reported at start-up.
    public func periodic(name: String, cron: String, timezone: String = "UTC", task: String, args: [JSONValue] = [],
                         kwargs: JSONObject = [:], options: TaskMessage.Options = TaskMessage.Options()) {
        var object: JSONObject = ["task": .string(task), "args": .array(args), "kwargs": .object(kwargs),
                                  "queue": .string(options.queue)]
        object["cron"] = .string(cron)
        object["timezone"] = .string(timezone)
        addPeriodic(name: name, json: .object(object))
    }

    private func addPeriodic(name: String, json: JSONValue) {
        do {
            let schedule = try PeriodicSchedule(name: name, json: json)
            if periodicSchedules.contains(where: { $0.name == name }) {
                reportRegistrationError("periodic task '\(name)' is defined twice")
            } else {
                appendPeriodic(schedule)
            }
        } catch {
            reportRegistrationError("periodic task '\(name)': \(error)")
        }
    }
}
