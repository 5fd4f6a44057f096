import Sockets

/// Where the Sentinels are and which master they watch: kombu's `sentinel://` form, so a Python app
/// and Celeriac share one broker URL.
///
/// `sentinel://[[user]:password@]h1:26379;sentinel://h2:26379;sentinel://h3:26379/0?master_name=NAME`
/// — the userinfo authenticates to Redis (the master), as in kombu; `sentinel_username` and
/// `sentinel_password` query parameters (kombu's `sentinel_kwargs`) authenticate to the Sentinels.
public struct SentinelConfiguration: Sendable, Equatable {
    public var sentinels: [SocketAddress]
    /// The name the Sentinels know the master by (`--sentinel-master`, `master_name`).
    public var masterName: String
    public var username: String?
    public var password: String?

    public init(sentinels: [SocketAddress], masterName: String, username: String? = nil, password: String? = nil) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.username = username
        self.password = password
    }

    /// The connection settings for one Sentinel (no database: Sentinels have none).
    func configuration(for sentinel: SocketAddress, like base: RedisConfiguration) -> RedisConfiguration {
        var configuration = RedisConfiguration(address: sentinel, username: username, password: password, database: 0)
        configuration.connectTimeout = base.connectTimeout
        configuration.commandTimeout = base.commandTimeout
        return configuration
    }
}

extension RedisConfiguration {
    /// Parses a `sentinel://…;sentinel://…` URL; the master's address is learnt at connect time.
    init(sentinelURL url: String) throws {
        func bad(_ reason: String) -> RedisError { RedisError.invalidURL(url, reason: reason) }
        var body = Substring(url)
        var query: [String: String] = [:]
        if let q = body.firstIndex(of: "?") {
            for item in body[body.index(after: q)...].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count == 2 ? String(kv[1]).removingPercentEncodingSimple : ""
            }
            body = body[..<q]
        }
        var sentinels: [SocketAddress] = []
        var username: String?
        var password: String?
        var database = 0
        for part in body.split(separator: ";", omittingEmptySubsequences: true) {
            let text = part.trimmingSpaces
            guard text.hasPrefix("sentinel://") else { throw bad("every ';'-separated part must start with sentinel://") }
            let one = try RedisConfiguration(url: "redis://" + text.dropFirst("sentinel://".count))
            sentinels.append(one.address)
            if one.password != nil { (username, password) = (one.username, one.password) }
            if one.database != 0 { database = one.database }
        }
        guard !sentinels.isEmpty else { throw bad("no sentinel address") }
        guard let master = query["master_name"], !master.isEmpty else {
            throw bad("a sentinel:// URL needs the master's name: --sentinel-master NAME (env CELERIAC_SENTINEL_MASTER) or ?master_name=NAME")
        }
        self.init(address: sentinels[0], username: username, password: password, database: database)
        sentinel = SentinelConfiguration(sentinels: sentinels, masterName: master,
                                         username: query["sentinel_username"], password: query["sentinel_password"])
    }
}

extension Substring {
    var trimmingSpaces: String { String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
}
