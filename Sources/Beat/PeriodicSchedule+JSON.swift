import Foundation
import TaskProtocol

extension PeriodicSchedule {
    /// The stored form: `{"task","args","kwargs","queue","every"}` or `{…,"cron","timezone"}`.
    public var json: JSONValue {
        var object: JSONObject = ["task": .string(task), "args": .array(args), "kwargs": .object(kwargs), "queue": .string(queue)]
        switch rule {
        case .every(let seconds):
            object["every"] = seconds == seconds.rounded() ? .int(Int64(seconds)) : .double(seconds)
        case .cron(let crontab):
            object["cron"] = .string(crontab.expression)
            object["timezone"] = .string(crontab.timeZone.identifier)
        }
        return .object(object)
    }

    /// Reads and validates a definition (stored or sent over HTTP); throws `ScheduleError` naming the field.
    public init(name: String, json: JSONValue) throws(ScheduleError) {
        guard case .object(let object) = json else { throw ScheduleError(field: "body", "must be a JSON object") }
        guard let task = object["task"]?.stringValue, (1...256).contains(task.unicodeScalars.count) else {
            throw ScheduleError(field: "task", "must be a non-empty string of at most 256 characters")
        }
        var args: [JSONValue] = []
        if let value = object["args"], value != .null {
            guard case .array(let a) = value else { throw ScheduleError(field: "args", "must be an array") }
            args = a
        }
        var kwargs: JSONObject = [:]
        if let value = object["kwargs"], value != .null {
            guard case .object(let k) = value else { throw ScheduleError(field: "kwargs", "must be an object") }
            kwargs = k
        }
        var queue = "celery"
        if let value = object["queue"], value != .null {
            guard let q = value.stringValue, (1...200).contains(q.utf8.count), q.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw ScheduleError(field: "queue", "must be 1 to 200 printable ASCII characters, no spaces")
            }
            queue = q
        }
        let rule: Rule
        switch (object["every"], object["cron"]) {
        case (let every?, nil):
            let seconds: Double
            switch every {
            case .int(let i): seconds = Double(i)
            case .double(let d): seconds = d
            default: throw ScheduleError(field: "every", "must be a number of seconds")
            }
            guard seconds >= 1, TimeBounds.isDelay(seconds) else {
                throw ScheduleError(field: "every", "must be from 1 to \(Int(TimeBounds.maxSecondsAhead)) seconds")
            }
            rule = .every(seconds)
        case (nil, let cron?):
            guard let expression = cron.stringValue else { throw ScheduleError(field: "cron", "must be a string") }
            var zone = TimeZone(identifier: "UTC")!
            if let value = object["timezone"], value != .null {
                guard let id = value.stringValue, let z = Self.knownZone(id) else {
                    throw ScheduleError(field: "timezone", "must be a known time zone identifier such as Europe/Berlin")
                }
                zone = z
            }
            do { rule = .cron(try Crontab(expression, timeZone: zone)) } catch { throw ScheduleError(field: "cron", error.description) }
        default:
            throw ScheduleError(field: "every", "give exactly one of every (seconds) and cron")
        }
        self.init(name: name, task: task, args: args, kwargs: kwargs, queue: queue, rule: rule)
    }

    /// A zone only by its IANA identifier (Foundation also accepts abbreviations such as "CET").
    static func knownZone(_ id: String) -> TimeZone? {
        guard id == "UTC" || TimeZone.knownTimeZoneIdentifiers.contains(id) else { return nil }
        return TimeZone(identifier: id)
    }
}

/// A schedule definition that is not valid: the field and why (an API answers 422 with it).
public struct ScheduleError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The offending field of the definition.
    public let field: String
    /// Why it is not valid.
    public let reason: String
    init(field: String, _ reason: String) { self.field = field; self.reason = reason }
    /// `field: reason`.
    public var description: String { "\(field): \(reason)" }
}
