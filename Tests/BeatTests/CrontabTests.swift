import Foundation
import Testing
@testable import Beat

/// The cron parser and next-fire computation, time zones and daylight-saving days included.
@Suite struct CrontabTests {
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func fields_readStarsListsRangesAndSteps() throws {
        let cron = try Crontab("*/15 9-11,14 1,15 */3 1-5")
        #expect(cron.minutes == [0, 15, 30, 45])
        #expect(cron.hours == [9, 10, 11, 14])
        #expect(cron.days == [1, 15])
        #expect(cron.months == [1, 4, 7, 10])
        #expect(cron.weekdays == [1, 2, 3, 4, 5])
        #expect(try Crontab("5/20 * * * 0,7").minutes == [5, 25, 45])
        #expect(try Crontab("0 0 * * 7").weekdays == [0])
        #expect(try Crontab("0 22-2 * * *").hours == [0, 1, 2, 22, 23])
        #expect(try Crontab("0 22-2/2 * * *").hours == [0, 2, 22])
    }

    @Test func badExpressions_nameTheFieldAndText() {
        for (text, field) in [("* * * *", "5 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day-of-month"),
                              ("* * * 13 *", "month"), ("* * * * 8", "day-of-week"), ("*/0 * * * *", "minute"),
                              ("a * * * *", "minute"), ("1,,2 * * * *", "minute"), ("+5 * * * *", "5 fields"),
                              ("007 * * * *", "5 fields"), ("*/1000 * * * *", "minute")] {
            #expect(throws: CronError.self) { try Crontab(text) }
            do { _ = try Crontab(text) } catch { #expect(error.description.contains(field), "\(text): \(error)") }
        }
    }

    @Test func next_inUTC_isTheFollowingMatchingMinute() throws {
        let cron = try Crontab("*/5 * * * *")
        #expect(cron.next(after: Self.utc("2026-07-01T10:02:30Z")) == Self.utc("2026-07-01T10:05:00Z"))
        #expect(cron.next(after: Self.utc("2026-07-01T10:05:00Z")) == Self.utc("2026-07-01T10:10:00Z"))
        #expect(cron.next(after: Self.utc("2026-12-31T23:59:00Z")) == Self.utc("2027-01-01T00:00:00Z"))
        #expect(try Crontab("0 0 29 2 *").next(after: Self.utc("2026-03-01T00:00:00Z")) == Self.utc("2028-02-29T00:00:00Z"))
        #expect(try Crontab("0 0 30 2 *").next(after: Self.utc("2026-03-01T00:00:00Z")) == nil)
    }

    @Test func bothDayFieldsRestricted_matchEither_asVixieCron() throws {
        // 2026-07-01 is a Wednesday: "the 15th or any Monday" next falls on Monday the 6th.
        let cron = try Crontab("0 12 15 * 1")
        #expect(cron.next(after: Self.utc("2026-07-01T00:00:00Z")) == Self.utc("2026-07-06T12:00:00Z"))
        #expect(cron.next(after: Self.utc("2026-07-13T13:00:00Z")) == Self.utc("2026-07-15T12:00:00Z"))
        // Only the weekday restricted: Mondays only.
        #expect(try Crontab("0 12 * * 1").next(after: Self.utc("2026-07-07T00:00:00Z")) == Self.utc("2026-07-13T12:00:00Z"))
    }

    @Test func aBerlinCrontab_firesAtBerlinWallClock_inWinterAndSummer() throws {
        let cron = try Crontab("0 9 * * *", timeZone: Self.berlin)
        #expect(cron.next(after: Self.utc("2026-01-15T00:00:00Z")) == Self.utc("2026-01-15T08:00:00Z"))  // CET, UTC+1
        #expect(cron.next(after: Self.utc("2026-07-15T00:00:00Z")) == Self.utc("2026-07-15T07:00:00Z"))  // CEST, UTC+2
    }

    @Test func springForward_skipsTheMissingLocalTime_thatDayOnly() throws {
        // 2026-03-29: Berlin clocks jump from 02:00 to 03:00; 02:30 does not exist that day.
        let cron = try Crontab("30 2 * * *", timeZone: Self.berlin)
        #expect(cron.next(after: Self.utc("2026-03-28T02:00:00Z")) == Self.utc("2026-03-30T00:30:00Z"))
        let three = try Crontab("0 3 * * *", timeZone: Self.berlin)
        #expect(three.next(after: Self.utc("2026-03-28T12:00:00Z")) == Self.utc("2026-03-29T01:00:00Z"))
        let hourly = try Crontab("0 * * * *", timeZone: Self.berlin)
        #expect(hourly.next(after: Self.utc("2026-03-29T00:30:00Z")) == Self.utc("2026-03-29T01:00:00Z"))
    }

    @Test func fallBack_firesTheRepeatedLocalTimeOnce_atItsFirstOccurrence() throws {
        // 2026-10-25: Berlin clocks go back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
        let cron = try Crontab("30 2 * * *", timeZone: Self.berlin)
        let first = cron.next(after: Self.utc("2026-10-24T22:00:00Z"))
        #expect(first == Self.utc("2026-10-25T00:30:00Z"))
        #expect(cron.next(after: first!) == Self.utc("2026-10-26T01:30:00Z"))
    }

    @Test func catchUp_afterAnOutage_isTheLatestMissedTimeOnly() throws {
        let cron = try Crontab("*/5 * * * *")
        let latest = cron.latest(after: Self.utc("2026-07-01T10:00:00Z"), upTo: Self.utc("2026-07-01T13:07:00Z"))
        #expect(latest == Self.utc("2026-07-01T13:05:00Z"))
        #expect(cron.latest(after: Self.utc("2026-07-01T13:05:00Z"), upTo: Self.utc("2026-07-01T13:07:00Z")) == nil)
        let daily = try Crontab("0 4 1 * *")  // monthly, after a 3-month outage
        #expect(daily.latest(after: Self.utc("2026-01-02T00:00:00Z"), upTo: Self.utc("2026-04-20T00:00:00Z")) == Self.utc("2026-04-01T04:00:00Z"))
    }
}
