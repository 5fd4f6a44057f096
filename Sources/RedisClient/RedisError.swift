/// The one error type of `RedisClient`; each case names the operation and the address.
public enum RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Could not connect (or authenticate / select the database).
    case connect(address: String, reason: String)
    /// No reply within the deadline; the connection was discarded.
    case timeout(command: String, address: String, seconds: Double)
    /// The connection closed or failed while the command was in flight or before it was sent.
    case connectionClosed(address: String, reason: String)
    /// The server is considered down: a recent connect failed, the next attempt is after a backoff.
    case unavailable(address: String, reason: String, retryAfter: Double)
    /// The server answered with an error reply (`-ERR …`).
    case server(command: String, message: String)
    /// The reply stream was not valid RESP, or a reply had an unexpected shape.
    case protocolError(String)
    /// A URL that is not `redis://[[user]:password@]host[:port][/db]` or `unix:///path[?db=N]`.
    case invalidURL(String, reason: String)

    public var description: String {
        switch self {
        case .connect(let address, let reason): "connect(\(address)): \(reason)"
        case .timeout(let command, let address, let seconds): "\(command) on \(address): no reply within \(seconds)s"
        case .connectionClosed(let address, let reason): "connection to \(address) lost: \(reason)"
        case .unavailable(let address, let reason, let retryAfter):
            "redis at \(address) unavailable (\(reason)); next attempt in \(String(format: "%.1f", retryAfter))s"
        case .server(let command, let message): "\(command): \(message)"
        case .protocolError(let message): "RESP protocol error: \(message)"
        case .invalidURL(let url, let reason): "invalid Redis URL '\(url)': \(reason)"
        }
    }

    /// True when the server may be reachable again later (callers answer 503, workers back off).
    public var isConnectivity: Bool {
        switch self {
        case .connect, .timeout, .connectionClosed, .unavailable: true
        // The server is there but cannot serve yet: loading its AOF/RDB after a restart, or a replica
        // without its primary. Callers treat these like a brief outage (503, retry), not like a bug.
        case .server(_, let message):
            // READONLY: the master was demoted by a failover; the client re-asks the Sentinels.
            message.hasPrefix("LOADING") || message.hasPrefix("MASTERDOWN") || message.hasPrefix("TRYAGAIN")
                || message.hasPrefix("READONLY") || message.hasPrefix("NOREPLICAS")
        default: false
        }
    }
}

import Foundation
