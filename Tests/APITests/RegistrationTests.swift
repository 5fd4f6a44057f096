import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
import Testing
import TestSupport
import ExampleTasks

/// The registration loop of the example app: register → email link → activate once; `GET /users/{id}`.
@Suite struct RegistrationTests {
    /// Registers `email` and returns the user id and the token of the link in the queued email task.
    func register(_ h: APIHarness, _ email: String, expect status: Int = 201) async throws -> (user: String, token: String) {
        let created = try await h.post("/register", #"{"email": "\#(email)"}"#)
        #expect(created.status == status, "\(created.text)")
        let user = try #require(created.json?["user_id"] as? String)
        let taskID = try #require(created.json?["activation_task_id"] as? String)
        let queued = try await h.redis.send(["LRANGE", "celery", "0", "-1"]).array ?? []
        let messages = try queued.compactMap { $0.bytes }.map { try TaskMessage.decode($0) }
        let message = try #require(messages.first { $0.id == taskID })
        let link = try #require(message.args.last?.stringValue)
        #expect(link.hasPrefix("http://localhost:8080/activate/"))
        return (user, String(link.split(separator: "/").last!))
    }

    func activate(_ h: APIHarness, _ token: String, json: Bool = true) async throws -> TestHTTPResponse {
        try await HTTPTestClient.request(port: h.port, method: "GET", path: "/activate/\(token)",
                                         headers: json ? [("Accept", "application/json")] : [])
    }

    @Test func theEmailedLink_activatesTheUserOnce_thenIsRefused() async throws {
        let h = try await APIHarness(withWorker: false)
        let (user, token) = try await register(h, "ada@example.com")
        #expect(token.count == 43 && !token.contains(user))
        let before = try await h.get("/users/\(user)")
        #expect(before.status == 200)
        #expect(before.json?["status"] as? String == "pending")
        #expect(before.json?["email"] as? String == "ada@example.com")
        #expect((before.json?["activation_task"] as? [String: Any])?["state"] as? String == "PENDING")
        #expect(before.json?["activated_at"] is NSNull)

        let first = try await activate(h, token)
        #expect(first.status == 200)
        #expect(first.json?["status"] as? String == "active")
        let after = try await h.get("/users/\(user)")
        #expect(after.json?["status"] as? String == "active")
        #expect(after.json?["activated_at"] as? String != nil)

        let second = try await activate(h, token)
        #expect(second.status == 409)
        #expect(second.headers["content-type"] == "application/problem+json")
        #expect(second.json?["field"] as? String == "token")
        for forged in [String(repeating: "A", count: 43), user, "x", String(token.dropLast()) + (token.last == "A" ? "B" : "A")] {
            let refused = try await activate(h, forged)
            #expect(refused.status == 404, "\(forged)")
            #expect(refused.headers["content-type"] == "application/problem+json")
        }
        // An active address registered again is a conflict.
        let again = try await h.post("/register", #"{"email": "ADA@example.com"}"#)
        #expect(again.status == 409)
        await h.stop()
    }

    @Test func aBrowser_getsAnHTMLPage_withTheEmailEscaped() async throws {
        let h = try await APIHarness(withWorker: false)
        let (_, token) = try await register(h, "o'brien&co@example.com")
        let page = try await activate(h, token, json: false)
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.text.contains("o&#39;brien&amp;co@example.com"))
        #expect(!page.text.contains("o'brien&co"))
        await h.stop()
    }

    @Test func anExpiredLink_is410() async throws {
        let h = try await APIHarness(withWorker: false)
        let (user, _) = try await register(h, "late@example.com")
        let stale = String(repeating: "s", count: 43)
        try await h.broker.issueTicket("celeriac:activation:\(stale)", owner: user, expiresAt: Date().addingTimeInterval(-1),
                                       keepSeconds: 60)
        let expired = try await activate(h, stale)
        #expect(expired.status == 410)
        #expect(expired.json?["field"] as? String == "token")
        #expect(try await h.get("/users/\(user)").json?["status"] as? String == "pending")
        await h.stop()
    }

    @Test func aPendingAddress_registeredAgain_getsAFreshLink_andTheFirstLinkUsedWins() async throws {
        var settings = APIHarness.exampleSettings()
        settings.resendInterval = 0
        let h = try await APIHarness(withWorker: false, settings: settings)
        let (user, firstToken) = try await register(h, "bob@example.com")
        let (sameUser, secondToken) = try await register(h, "bob@example.com", expect: 202)
        #expect(sameUser == user && secondToken != firstToken)
        #expect(try await h.redis.send(["LLEN", "celery"]) == .integer(2))
        #expect(try await activate(h, secondToken).status == 200)
        #expect(try await activate(h, firstToken).status == 409)
        await h.stop()
    }

    @Test func anUnknownUser_is404() async throws {
        let h = try await APIHarness(withWorker: false)
        for id in ["00000000-0000-4000-8000-000000000000", "nope", "..%2F"] {
            let missing = try await h.get("/users/\(id)")
            #expect(missing.status == 404)
            #expect(missing.json?["field"] as? String == "id")
        }
        await h.stop()
    }
}
