import Sockets

/// Where and how to reach Redis. Parsed from `redis://[[user]:password@]host[:port][/db]` or
/// `unix:///path/to/redis.sock[?db=N]`; timeouts have documented defaults.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible {
    public var address: SocketAddress
    public var username: String?
    public var password: String?
    public var database: Int
    /// Seconds to establish a connection (TCP connect, AUTH, SELECT). Default 3.
    public var connectTimeout: Double = 3
    /// Seconds to wait for any reply (a blocking command adds its own timeout). Default 5.
    public var commandTimeout: Double = 5
    /// First reconnect backoff in seconds, doubled after each failure up to `maxBackoff`. Defaults 0.1 / 5.
    public var initialBackoff: Double = 0.1
    public var maxBackoff: Double = 5
    /// Replicas that must have every script's and transaction's writes (`WAIT`) before the call
    /// returns; 0 (the default) returns once the master has them. See `RedisClient.confirmReplicated`.
    public var minReplicasAck = 0
    /// Milliseconds `WAIT` may take before the write counts as unconfirmed. Default 1000.
    public var replicaAckTimeoutMilliseconds = 1000
    /// Set for a `sentinel://` URL: `address` is then only where the master was last found.
    public var sentinel: SentinelConfiguration?

    public init(address: SocketAddress, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a Redis URL; the error says which part is wrong.
    public init(url: String) throws {
        func bad(_ reason: String) -> RedisError { RedisError.invalidURL(url, reason: reason) }
        if url.hasPrefix("sentinel://") {
            try self.init(sentinelURL: url)
            return
        }
        if url.hasPrefix("unix://") {
            var rest = String(url.dropFirst("unix://".count))
            var db = 0
            if let q = rest.firstIndex(of: "?") {
                let query = rest[rest.index(after: q)...]
                rest = String(rest[..<q])
                for item in query.split(separator: "&") {
                    let kv = item.split(separator: "=", maxSplits: 1)
                    if kv.count == 2, kv[0] == "db" {
                        guard let n = Int(kv[1]), n >= 0 else { throw bad("db must be a non-negative integer") }
                        db = n
                    }
                }
            }
            guard rest.hasPrefix("/") else { throw bad("a unix socket path must be absolute") }
            self.init(address: .unix(path: rest), database: db)
            return
        }
        guard url.hasPrefix("redis://") else { throw bad("scheme must be redis://, sentinel:// or unix:// (rediss:// needs TLS, which hiredis 0.14 lacks)") }
        var rest = Substring(url.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = String(userinfo[..<colon])
                username = user.isEmpty ? nil : user.removingPercentEncodingSimple
                password = String(userinfo[userinfo.index(after: colon)...]).removingPercentEncodingSimple
            } else if !userinfo.isEmpty {
                password = String(userinfo).removingPercentEncodingSimple
            }
        }
        var db = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...].split(separator: "?").first.map(String.init) ?? ""
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let n = Int(dbText), n >= 0 else { throw bad("database '\(dbText)' is not a non-negative integer") }
                db = n
            }
        }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw bad("unclosed '[' in IPv6 host") }
            let after = host[host.index(after: close)...]
            let inner = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw bad("port must be 1-65535") }
                port = p
            }
            host = inner
        } else if let colon = host.lastIndex(of: ":") {
            let portText = host[host.index(after: colon)...]
            guard let p = Int(portText), (1...65535).contains(p) else { throw bad("port '\(portText)' must be 1-65535") }
            port = p
            host = String(host[..<colon])
        }
        if host.isEmpty { host = "127.0.0.1" }
        self.init(address: .tcp(host: host, port: port), username: username, password: password, database: db)
    }

    /// The URL with the password masked, for logs (`redis://:**@host:port/db`, as Celery shows it).
    public var description: String {
        if let sentinel {
            let auth = password == nil ? "" : "\(username ?? ""):**@"
            let hosts = sentinel.sentinels.map { "sentinel://\(auth)\($0)" }.joined(separator: ";")
            return "\(hosts)/\(database)?master_name=\(sentinel.masterName)"
        }
        switch address {
        case .unix(let path): return "unix://\(path)?db=\(database)"
        case .tcp:
            let auth = password == nil ? "" : "\(username ?? ""):**@"
            return "redis://\(auth)\(address)/\(database)"
        }
    }
}

extension String {
    /// Percent-decoding for the userinfo part of a URL (passwords may contain `@` or `:`).
    var removingPercentEncodingSimple: String {
        var out: [UInt8] = []
        let b = Array(utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
