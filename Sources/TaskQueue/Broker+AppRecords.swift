import Foundation
import RedisClient

/// Small generic operations for app code that keeps its own rows under the prefix (the `/register`
/// example's users and activation links): read a hash, read a claim, and single-use tickets. Apps
/// compute their key names; TaskQueue still sends every command.
extension Broker {
    /// An app's hash, nil when it does not exist.
    public func appHash(_ key: String) async throws -> [String: String]? {
        let fields = try await redis.send(["HGETALL", RedisArgument(key)]).throwingError(command: "HGETALL").fields
        return fields.isEmpty ? nil : fields
    }

    /// The value a claim holds (see `enqueue(_:claiming:as:…)`), nil when the claim is free.
    public func claimedValue(_ key: String) async throws -> String? {
        try await redis.send(["GET", RedisArgument(key)]).throwingError(command: "GET").string
    }

    /// Issues a single-use ticket (an emailed link's secret): a hash naming its `owner` and when it
    /// expires, kept `keepSeconds` so that a late click is told "expired" or "used", not "unknown".
    public func issueTicket(_ key: String, owner: String, expiresAt: Date, keepSeconds: Int) async throws {
        _ = try await redis.transaction([
            ["HSET", RedisArgument(key), "owner", RedisArgument(owner),
             "expires_at", RedisArgument(String(Int64(expiresAt.timeIntervalSince1970)))],
            ["EXPIRE", RedisArgument(key), RedisArgument(max(1, keepSeconds))],
        ])
    }

    /// Redeems a ticket at most once, writing `fields` into the owner's hash in the same step. Read the
    /// ticket first (`appHash`) to learn its owner, then pass the owner and the owner's hash key: the
    /// script checks the owner is unchanged. When the owner's `unlessField` already holds
    /// `unlessValue` (say, an account activated through another link) the ticket is spent as `used`.
    public func redeemTicket(_ key: String, owner: String, ownerHash: String, unlessField: String, unlessValue: String,
                             writing fields: [(String, String)], now: Date = Date()) async throws -> TicketRedemption {
        let reply = try await RedeemTicket(ticket: key, ownerHash: ownerHash, owner: owner,
                                           now: Int64(now.timeIntervalSince1970), unlessField: unlessField,
                                           unlessValue: unlessValue, pairs: fields).run(on: redis)
        guard let text = reply.string, let outcome = TicketRedemption(rawValue: text) else {
            throw TaskQueueError.unexpectedReply(operation: "redeem_ticket", reply: "\(reply)")
        }
        return outcome
    }
}

/// What redeeming a ticket did.
public enum TicketRedemption: String, Sendable {
    /// This call spent the ticket and wrote the owner's fields.
    case redeemed
    /// No such ticket (never issued, forgotten after its keep time, or its owner is gone).
    case unknown
    /// Spent before (or the owner had reached the state already).
    case used
    /// Past its expiry time.
    case expired
}
