import Beat
import Foundation
import Testing
import TestSupport

/// `GET/PUT/DELETE /schedules`: validated definitions (422 naming the field) stored where beats read them.
@Suite struct ScheduleRouteTests {
    func put(_ h: APIHarness, _ name: String, _ body: String) async throws -> TestHTTPResponse {
        try await HTTPTestClient.request(port: h.port, method: "PUT", path: "/schedules/\(name)",
                                         headers: [("Content-Type", "application/json")], body: body)
    }

    @Test func aSchedule_isStored_listed_read_andDeleted() async throws {
        let h = try await APIHarness(withWorker: false)
        let every = try await put(h, "tick", #"{"task": "t.tick", "args": [1], "queue": "q", "every": 5}"#)
        #expect(every.status == 200)
        #expect(every.json?["every"] as? Int == 5)
        let cron = try await put(h, "report", #"{"task": "t.report", "cron": "*/5 * * * *", "timezone": "Europe/Berlin"}"#)
        #expect(cron.status == 200)
        #expect(cron.json?["timezone"] as? String == "Europe/Berlin")
        let list = try await h.get("/schedules")
        #expect(list.json?["count"] as? Int == 2)
        #expect(try await h.broker.schedules().keys.sorted() == ["report", "tick"])
        #expect(try await h.get("/schedules/report").json?["cron"] as? String == "*/5 * * * *")
        let deleted = try await HTTPTestClient.request(port: h.port, method: "DELETE", path: "/schedules/report")
        #expect(deleted.status == 204)
        #expect(try await h.get("/schedules/report").status == 404)
        #expect(try await HTTPTestClient.request(port: h.port, method: "DELETE", path: "/schedules/report").status == 404)
        await h.stop()
    }

    @Test func invalidDefinitions_are422_namingTheField() async throws {
        let h = try await APIHarness(withWorker: false)
        let cases: [(String, String)] = [
            (#"{"every": 5}"#, "task"),
            (#"{"task": "t", "every": 0}"#, "every"),
            (#"{"task": "t", "every": 1e300}"#, "every"),
            (#"{"task": "t"}"#, "every"),
            (#"{"task": "t", "every": 5, "cron": "* * * * *"}"#, "every"),
            (#"{"task": "t", "cron": "61 * * * *"}"#, "cron"),
            (#"{"task": "t", "cron": ""}"#, "cron"),
            (#"{"task": "t", "cron": "* * * * *", "timezone": "Europe/Atlantis"}"#, "timezone"),
            (#"{"task": "t", "every": 5, "queue": "a b"}"#, "queue"),
            (#"{"task": "t", "every": 5, "colour": "red"}"#, "colour"),
        ]
        for (body, field) in cases {
            let response = try await put(h, "s", body)
            #expect(response.status == 422, "\(body)")
            #expect(response.json?["field"] as? String == field, "\(body): \(response.json ?? [:])")
        }
        #expect(try await h.broker.schedules().isEmpty)
        await h.stop()
    }

    @Test func openAPISpec_statesTheCronLanguageAndZoneList_theServerAccepts() throws {
        let spec = try String(contentsOf: RepoPaths.root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        #expect(spec.contains("pattern: '\(Crontab.pattern)'"))
        let zones = Set(TimeZone.knownTimeZoneIdentifiers).union(["UTC"]).sorted().joined(separator: ", ")
        #expect(spec.contains("enum: [\(zones)]"), "regenerate TimeZoneID's enum in openapi.yaml from TimeZone.knownTimeZoneIdentifiers + UTC")
    }
}
