import Foundation
import TaskProtocol
import TaskQueue
import Testing
import TestSupport

@Suite struct RateLimitAPITests {
    @Test func rateLimits_areSetReadAndRemovedOverHTTP_andBadRatesAre422() async throws {
        let h = try await APIHarness(allowUnknownTasks: true, withWorker: false)
        func call(_ method: String, _ body: String? = nil) async throws -> TestHTTPResponse {
            try await HTTPTestClient.request(port: h.port, method: method, path: "/rate-limits/t.limited",
                                             headers: body == nil ? [] : [("Content-Type", "application/json")], body: body)
        }
        #expect(try await call("GET").status == 404)
        let put = try await call("PUT", #"{"rate": "100/m"}"#)
        #expect(put.status == 200)
        #expect(put.json?["rate"] as? String == "100/m")
        #expect(try await h.broker.rateLimits()["t.limited"] == RateLimit("100/m"))
        #expect(try await call("GET").json?["rate"] as? String == "100/m")
        for bad in [#"{"rate": "10/d"}"#, #"{"rate": "0/s"}"#, #"{"rate": 10}"#, #"{}"#] {
            let response = try await call("PUT", bad)
            #expect(response.status == 422, "\(bad)")
            #expect(response.json?["field"] as? String == "rate", "\(bad)")
        }
        #expect(try await call("DELETE").status == 200)
        #expect(try await call("GET").status == 404)
        #expect(try await h.broker.rateLimits().isEmpty)
        await h.stop()
    }
}
