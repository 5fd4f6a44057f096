import Foundation
import RedisClient
import Testing
@testable import TaskQueue

/// Single-use tickets for app code (the registration example's activation links): `RedeemTicket`.
@Suite struct TicketScriptTests {
    let later = Date().addingTimeInterval(3600)

    @Test func aTicket_isRedeemedOnce_writingTheOwnersFields() async throws {
        let h = try ScriptHarness()
        try await h.run(["HSET", "app:user:1", "status", "pending"])
        try await h.broker.issueTicket("app:ticket:a", owner: "1", expiresAt: later, keepSeconds: 60)
        let first = try await h.broker.redeemTicket("app:ticket:a", owner: "1", ownerHash: "app:user:1", unlessField: "status",
                                                    unlessValue: "active", writing: [("status", "active"), ("at", "now")])
        #expect(first == .redeemed)
        #expect(try await h.broker.appHash("app:user:1") == ["status": "active", "at": "now"])
        let second = try await h.broker.redeemTicket("app:ticket:a", owner: "1", ownerHash: "app:user:1", unlessField: "status",
                                                     unlessValue: "active", writing: [("at", "again")])
        #expect(second == .used)
        #expect(try await h.broker.appHash("app:user:1")?["at"] == "now")
        #expect(Int(try await h.run(["TTL", "app:ticket:a"]).integer ?? 0) > 0)
    }

    @Test func aSecondTicket_ofAnOwnerAlreadyThere_isSpentAsUsed_withoutWriting() async throws {
        let h = try ScriptHarness()
        try await h.run(["HSET", "app:user:1", "status", "active", "at", "first"])
        try await h.broker.issueTicket("app:ticket:b", owner: "1", expiresAt: later, keepSeconds: 60)
        let outcome = try await h.broker.redeemTicket("app:ticket:b", owner: "1", ownerHash: "app:user:1", unlessField: "status",
                                                      unlessValue: "active", writing: [("at", "second")])
        #expect(outcome == .used)
        #expect(try await h.broker.appHash("app:user:1")?["at"] == "first")
        #expect(try await h.run(["HEXISTS", "app:ticket:b", "used_at"]) == .integer(1))
    }

    @Test func expiredMissingOrMismatchedTickets_writeNothing() async throws {
        let h = try ScriptHarness()
        try await h.run(["HSET", "app:user:1", "status", "pending"])
        try await h.broker.issueTicket("app:ticket:old", owner: "1", expiresAt: Date().addingTimeInterval(-1), keepSeconds: 60)
        try await h.broker.issueTicket("app:ticket:c", owner: "1", expiresAt: later, keepSeconds: 60)
        try await h.broker.issueTicket("app:ticket:orphan", owner: "2", expiresAt: later, keepSeconds: 60)
        let before = try await h.snapshot()
        func redeem(_ key: String, owner: String, hash: String) async throws -> TicketRedemption {
            try await h.broker.redeemTicket(key, owner: owner, ownerHash: hash, unlessField: "status", unlessValue: "active",
                                            writing: [("status", "active")])
        }
        #expect(try await redeem("app:ticket:old", owner: "1", hash: "app:user:1") == .expired)
        #expect(try await redeem("app:ticket:none", owner: "1", hash: "app:user:1") == .unknown)
        #expect(try await redeem("app:ticket:c", owner: "2", hash: "app:user:2") == .unknown)    // not its owner
        #expect(try await redeem("app:ticket:orphan", owner: "2", hash: "app:user:2") == .unknown)  // owner gone
        #expect(try await h.snapshot() == before)
    }

    @Test func aTicketKeyOfTheWrongType_isAClearError_andWritesNothing() async throws {
        let h = try ScriptHarness()
        try await h.run(["SET", "app:ticket:s", "x"])
        try await h.run(["HSET", "app:user:1", "status", "pending"])
        let before = try await h.snapshot()
        await #expect(throws: RedisError.self) {
            try await h.broker.redeemTicket("app:ticket:s", owner: "1", ownerHash: "app:user:1", unlessField: "status",
                                            unlessValue: "active", writing: [("status", "active")])
        }
        #expect(try await h.snapshot() == before)
    }
}
