import Foundation
import Testing
import TaskProtocol
@testable import Beat

/// Schedule definitions as stored and sent over HTTP: validation names the field; due times.
@Suite struct PeriodicScheduleTests {
    func schedule(_ json: String) throws -> PeriodicSchedule { try PeriodicSchedule(name: "s", json: try JSONValue.parse(json)) }
    func field(_ json: String) -> String? {
        do { _ = try schedule(json); return nil } catch let error as ScheduleError { return error.field } catch { return "?" }
    }

    @Test func definitions_roundTripThroughTheirJSON() throws {
        let every = try schedule(#"{"task":"t.add","args":[1,2],"kwargs":{"x":1},"queue":"q","every":5}"#)
        #expect(every.rule == .every(5) && every.queue == "q" && every.args == [1, 2])
        #expect(try PeriodicSchedule(name: "s", json: every.json) == every)
        let cron = try schedule(#"{"task":"t.add","cron":"*/5 * * * *","timezone":"Europe/Berlin"}"#)
        #expect(try PeriodicSchedule(name: "s", json: cron.json) == cron)
        #expect(cron.queue == "celery")
    }

    @Test func invalidDefinitions_nameTheOffendingField() {
        #expect(field(#"{"every":5}"#) == "task")
        #expect(field(#"{"task":"t","every":0.5}"#) == "every")
        #expect(field(#"{"task":"t","every":1e300}"#) == "every")
        #expect(field(#"{"task":"t","every":"5"}"#) == "every")
        #expect(field(#"{"task":"t"}"#) == "every")
        #expect(field(#"{"task":"t","every":5,"cron":"* * * * *"}"#) == "every")
        #expect(field(#"{"task":"t","cron":"* * *"}"#) == "cron")
        #expect(field(#"{"task":"t","cron":"* * * * *","timezone":"Mars/Olympus"}"#) == "timezone")
        #expect(field(#"{"task":"t","cron":"* * * * *","timezone":"CET1"}"#) == "timezone")
        #expect(field(#"{"task":"t","every":5,"args":{}}"#) == "args")
        #expect(field(#"{"task":"t","every":5,"kwargs":[]}"#) == "kwargs")
        #expect(field(#"{"task":"t","every":5,"queue":""}"#) == "queue")
    }

    @Test func intervalDueTimes_areMultiplesSinceTheEpoch_andCatchUpOnce() throws {
        let s = try schedule(#"{"task":"t","every":60}"#)
        let reference = Date(timeIntervalSince1970: 6_000)
        #expect(s.latestDue(after: reference, now: Date(timeIntervalSince1970: 6_059)) == nil)
        #expect(s.latestDue(after: reference, now: Date(timeIntervalSince1970: 6_060.5)) == Date(timeIntervalSince1970: 6_060))
        // Ten minutes of outage: one tick, for the latest due time.
        #expect(s.latestDue(after: reference, now: Date(timeIntervalSince1970: 6_630)) == Date(timeIntervalSince1970: 6_600))
        #expect(s.nextDue(after: Date(timeIntervalSince1970: 6_600)) == Date(timeIntervalSince1970: 6_660))
        #expect(s.tickID(due: Date(timeIntervalSince1970: 6_600)) == "s@6600000")
    }
}
