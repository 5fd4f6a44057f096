import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
@testable import Worker

/// An idle worker's background loops sleep until there is something to do (issue 15's idle cost),
/// yet an ETA, a retry or a task event is handled as promptly as when they polled.
@Suite struct IdleWakeupTests {
    @Test func anETAThisWorkerScheduled_isPromotedAtItsTime_notAtTheNextLongPoll() async throws {
        let h = try WorkerHarness()
        h.startWorker { $0.scheduleInterval = 60 }
        var options = TaskMessage.Options()
        let due = Date().addingTimeInterval(0.5)
        options.eta = due
        let id = try await h.submit("t.add", [2, 3], options: options)
        let doc = try #require(try await h.result(id, timeout: 30))
        #expect(doc.result == 5)
        let finished = try #require(doc.dateDone.flatMap(CeleryDate.parse))
        #expect(finished >= due.addingTimeInterval(-0.01))
        #expect(finished < due.addingTimeInterval(20), "woken by its own schedule, not the 60 s cap")
        try await h.stopWorker()
    }

    @Test func aRetry_isPromotedAtItsCountdown_notAtTheNextLongPoll() async throws {
        let h = try WorkerHarness()
        try h.registry.register(TaskDefinition(name: "t.flaky", parameters: []) { _, context in
            if context.retries < 2 { throw Retry(after: 0.2, reason: ExceptionInfo(type: "RuntimeError", message: "again")) }
            return .int(Int64(context.retries))
        })
        h.startWorker { $0.scheduleInterval = 60 }
        let start = Date()
        let id = try await h.submit("t.flaky", [])
        let doc = try #require(try await h.result(id, timeout: 30))
        #expect(doc.result == 2)
        #expect(Date().timeIntervalSince(start) < 40, "two retries 0.2 s apart, not two 60 s polls")
        try await h.stopWorker()
    }

    @Test func anAlarmRungBeforeItsSleep_endsThatSleepAtOnce() async {
        let alarm = Alarm()
        alarm.ring()
        alarm.ring()
        let start = Date()
        await alarm.sleep(upTo: 60)
        #expect(Date().timeIntervalSince(start) < 30)
        // Two rings were one: the next sleep runs to its deadline.
        let second = Date()
        await alarm.sleep(upTo: 0.05)
        #expect(Date().timeIntervalSince(second) >= 0.04)
    }

    @Test func anAlarmSleep_endsWhenRung_orWhenCancelled() async {
        let alarm = Alarm()
        let start = Date()
        let sleeper = Task { await alarm.sleep(upTo: nil) }
        alarm.ring()
        await sleeper.value
        let cancelled = Task { await alarm.sleep(upTo: 60) }
        cancelled.cancel()
        await cancelled.value
        #expect(Date().timeIntervalSince(start) < 30)
    }
}
