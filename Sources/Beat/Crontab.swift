import Foundation

/// A 5-field cron expression (minute hour day-of-month month day-of-week) read in a time zone.
///
/// Fields are separated by spaces. Each takes `*`, numbers, ranges `a-b` (one with a > b wraps:
/// hours `22-2` are 22, 23, 0, 1, 2), steps `*/n` and `a-b/n` (n 1–999; `a/n` runs to the field's end),
/// and comma lists of those. Day of week is 0–7 with 0 and 7 both Sunday. `Crontab.pattern` (also in
/// openapi.yaml) is exactly the language accepted. As in Vixie cron,
/// when both day fields are restricted a day matches either; otherwise it must match both.
///
/// Daylight-saving time: a local time that does not exist on a spring-forward day (02:30 in Berlin
/// on the last Sunday of March) is skipped that day; a local time that happens twice on a fall-back
/// day fires once, at its first occurrence.
///
/// ```swift
/// let cron = try Crontab("*/5 9-17 * * 1-5", timeZone: TimeZone(identifier: "Europe/Berlin")!)
/// let next = cron.next(after: Date())
/// ```
public struct Crontab: Sendable, Equatable {
    /// The expression as given (stored and shown back).
    public let expression: String
    /// The zone whose wall clock the fields describe.
    public let timeZone: TimeZone
    let minutes: [Int]
    let hours: [Int]
    let days: Set<Int>
    let months: Set<Int>
    let weekdays: Set<Int>
    let daysRestricted: Bool
    let weekdaysRestricted: Bool

    /// Parses `expression`; throws a sentence naming the field and the text it could not read.
    public init(_ expression: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws(CronError) {
        let fields = expression.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        guard fields.count == 5 else { throw CronError("cron '\(expression)' needs 5 fields (minute hour day-of-month month day-of-week), not \(fields.count)") }
        self.expression = expression
        self.timeZone = timeZone
        minutes = try Self.field(fields[0], "minute", 0...59).sorted()
        hours = try Self.field(fields[1], "hour", 0...23).sorted()
        days = try Self.field(fields[2], "day-of-month", 1...31)
        months = try Self.field(fields[3], "month", 1...12)
        weekdays = Set(try Self.field(fields[4], "day-of-week", 0...7).map { $0 % 7 })
        daysRestricted = !fields[2].hasPrefix("*")
        weekdaysRestricted = !fields[4].hasPrefix("*")
        guard Self.matcher.firstMatch(in: expression, range: NSRange(expression.startIndex..., in: expression)) != nil else {
            throw CronError("cron '\(expression)': write 5 fields separated by spaces, numbers of at most two digits without signs")
        }
    }

    /// The whole language, as a regular expression (openapi.yaml's `cron` pattern is the same text).
    public static let pattern = #"^(\*|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]{0,2})?(,(\*|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]{0,2})?)* +(\*|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]{0,2})?(,(\*|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]{0,2})?)* +(\*|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]{0,2})?(,(\*|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]{0,2})?)* +(\*|(0?[1-9]|1[0-2])(-(0?[1-9]|1[0-2]))?)(/[1-9][0-9]{0,2})?(,(\*|(0?[1-9]|1[0-2])(-(0?[1-9]|1[0-2]))?)(/[1-9][0-9]{0,2})?)* +(\*|(0?[0-7])(-(0?[0-7]))?)(/[1-9][0-9]{0,2})?(,(\*|(0?[0-7])(-(0?[0-7]))?)(/[1-9][0-9]{0,2})?)*$"#
    nonisolated(unsafe) static let matcher = try! NSRegularExpression(pattern: pattern)

    /// The values one field allows.
    static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws(CronError) -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bad = CronError("cron \(name) field '\(text)': cannot read '\(part)' (allowed \(range.lowerBound)-\(range.upperBound))")
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw bad }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), (1...999).contains(s) else { throw bad }
                step = s
            }
            let base = pieces[0]
            let low: Int, high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                guard let a = Int(base[..<dash]), let b = Int(base[base.index(after: dash)...]) else { throw bad }
                (low, high) = (a, b)
            } else {
                guard let a = Int(base) else { throw bad }
                (low, high) = (a, pieces.count == 2 ? range.upperBound : a)
            }
            guard range.contains(low), range.contains(high) else { throw bad }
            // A wrapping range runs to the field's end and on from its start.
            let run = low <= high ? Array(low...high) : Array(low...range.upperBound) + Array(range.lowerBound...high)
            values.formUnion(stride(from: 0, to: run.count, by: step).map { run[$0] })
        }
        return values
    }
}

/// A cron expression that cannot be read, or a time zone that is not known.
public struct CronError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The sentence naming the field and the offending text.
    public let description: String
    init(_ description: String) { self.description = description }
}
