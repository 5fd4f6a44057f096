import RedisClient

extension Broker {
    /// A connection of its own that blocks until a list has a message, without taking it: the
    /// worker's idle wait (a no-op BLMOVE of the list's tail onto itself), so a message is never
    /// outside Redis's lists without a hold — the atomic `fetch` takes it after the wake-up.
    public final class ListWatcher: Sendable {
        let connection: RedisConnection

        init(connection: RedisConnection) { self.connection = connection }

        /// True when `list` has a message (returns at once then), false after `timeout` seconds without one.
        public func waitForMessage(on list: String, timeout: Double) async throws -> Bool {
            try await waitForTail(on: list, timeout: timeout) != nil
        }

        /// The message at the tail of `list` — the next one a fetch takes — as soon as there is one
        /// (still in the list: the BLMOVE put it back where it was); nil after `timeout` seconds.
        /// A hint for `fetch(tail:)`, which saves the wake-up its read of the lists.
        public func waitForTail(on list: String, timeout: Double) async throws -> [UInt8]? {
            let key = RedisArgument(list)
            let reply = try await connection.send(["BLMOVE", key, key, "RIGHT", "RIGHT", RedisArgument(timeout)],
                                                  extraTimeout: timeout)
            let tail = try reply.throwingError(command: "BLMOVE")
            return tail.isNull ? nil : (tail.bytes ?? [])
        }

        /// The event loop where the wait's reply arrives: a watcher that prefers it costs no thread hop.
        public var executor: any TaskExecutor { connection.executor }

        /// True once the connection failed or was closed; create a new watcher.
        public var isClosed: Bool { connection.isClosed }

        /// Closes the connection; a wait in progress fails at once (shutdown).
        public func close(reason: String = "closed by client") { connection.close(reason: reason) }
    }

    /// A new watcher on a connection of its own.
    public func listWatcher() async throws -> ListWatcher {
        ListWatcher(connection: try await redis.dedicatedConnection())
    }

    /// A connection of its own in pub/sub mode: revoke and remote-control channels, result channels.
    public final class Subscriber: Sendable {
        let connection: RedisConnection

        init(connection: RedisConnection) { self.connection = connection }

        /// Subscribes to `channels`; each message published on them is handed to `onMessage`, in order.
        public func subscribe(_ channels: [String],
                              onMessage: @escaping @Sendable (_ channel: String, _ payload: [UInt8]) -> Void) async throws {
            try await connection.subscribe(channels, onMessage: onMessage)
        }

        /// Like `subscribe`, for glob patterns (PSUBSCRIBE); `onMessage` gets the channel that matched.
        public func psubscribe(_ patterns: [String],
                               onMessage: @escaping @Sendable (_ channel: String, _ payload: [UInt8]) -> Void) async throws {
            try await connection.psubscribe(patterns, onMessage: onMessage)
        }

        /// Stops listening on `channel` (best effort: a failure means the connection is gone anyway).
        public func unsubscribe(_ channel: String) async {
            _ = try? await connection.send(["UNSUBSCRIBE", RedisArgument(channel)])
        }

        /// Returns once the connection has failed or been closed, or the calling task is cancelled
        /// (a PING every `pingEvery` seconds finds a dead peer).
        public func waitUntilClosed(pingEvery: Double = 10) async { await connection.waitUntilClosed(pingEvery: pingEvery) }

        /// True once the connection failed or was closed; subscribe again on a new subscriber.
        public var isClosed: Bool { connection.isClosed }

        /// Closes the connection (safe to call more than once).
        public func close(reason: String = "closed by client") { connection.close(reason: reason) }
    }

    /// The pattern of Celery's event channels in this database (`/0.celeryev/*`): every routing key.
    public var eventChannels: String { "/\(database).celeryev/*" }

    /// A new subscriber on a connection of its own.
    public func subscriber() async throws -> Subscriber {
        Subscriber(connection: try await redis.dedicatedConnection())
    }
}
