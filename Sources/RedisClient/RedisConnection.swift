import DequeModule
import Foundation
import Glibc
import Sockets

/// One TCP or Unix connection to Redis, pipelined: many callers send at once, replies come back in
/// order and each resumes its own caller.
///
/// Writes happen on the caller's thread under `writeLock` (which also orders the pending queue);
/// one reader thread per connection reads, decodes with hiredis, and resumes callers. Any I/O error,
/// protocol error or missed deadline closes the connection and fails every pending command with a
/// `RedisError` naming the address: a failed connection is discarded, never reused (as hiredis does).
public final class RedisConnection: @unchecked Sendable {
    private struct Pending {
        var sink: ReplyCollector
        var index: Int
        var command: String
        var deadline: Double
    }

    public let configuration: RedisConfiguration
    private let socket: ClientSocket
    private let writeLock = NSLock()
    private let stateLock = NSLock()
    private var pending = Deque<Pending>()
    private var closedReason: String?
    private let address: String
    /// Subscriber mode: where published messages go (see `subscribe`).
    private var onMessage: (@Sendable (_ channel: String, _ payload: [UInt8]) -> Void)?

    /// Connects, authenticates and selects the database (blocking the calling thread up to the connect timeout).
    public init(configuration: RedisConfiguration) throws {
        self.configuration = configuration
        self.address = configuration.address.description
        do {
            socket = try ClientSocket.connect(to: configuration.address, timeout: configuration.connectTimeout)
        } catch {
            throw RedisError.connect(address: configuration.address.description, reason: "\(error)")
        }
        try handshake()
        let thread = Thread { [self] in readLoop() }
        thread.name = "redis-reader"
        thread.start()
    }

    deinit { close(reason: "connection released") }

    /// Connects without blocking a Swift concurrency thread.
    public static func connect(_ configuration: RedisConfiguration) async throws -> RedisConnection {
        try await offloaded("redis-connect") { try RedisConnection(configuration: configuration) }
    }

    /// AUTH and SELECT, synchronously, before the reader thread exists.
    private func handshake() throws {
        var commands: [[RedisArgument]] = []
        if let password = configuration.password {
            if let user = configuration.username { commands.append(["AUTH", RedisArgument(user), RedisArgument(password)]) }
            else { commands.append(["AUTH", RedisArgument(password)]) }
        }
        if configuration.database != 0 { commands.append(["SELECT", RedisArgument(configuration.database)]) }
        guard !commands.isEmpty else { return }
        var bytes: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &bytes) }
        let reader = RESPReader()
        do {
            try socket.sendAll(bytes)
            var replies: [RESPValue] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            let deadline = Date().addingTimeInterval(configuration.connectTimeout)
            while replies.count < commands.count {
                guard try socket.waitFor(events: Int16(POLLIN), timeout: deadline.timeIntervalSinceNow, operation: "handshake") else {
                    throw RedisError.connect(address: address, reason: "no reply to AUTH/SELECT within \(configuration.connectTimeout)s")
                }
                let n = try buffer.withUnsafeMutableBytes { try socket.receive(into: $0) }
                guard n > 0 else { throw RedisError.connect(address: address, reason: "server closed the connection during AUTH/SELECT") }
                try buffer.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                while let reply = try reader.next() { replies.append(reply) }
            }
            for (command, reply) in zip(commands, replies) {
                if case .error(let message) = reply {
                    let name = String(decoding: command[0].bytes, as: UTF8.self)
                    throw RedisError.connect(address: address, reason: "\(name) failed: \(message)")
                }
            }
        } catch let error as RedisError {
            socket.shutdown()
            throw error
        } catch {
            socket.shutdown()
            throw RedisError.connect(address: address, reason: "\(error)")
        }
    }

    /// True once the connection failed or was closed; create a new one.
    public var isClosed: Bool { stateLock.withLock { closedReason != nil } }

    /// Sends one command and waits for its reply. Error replies are returned, not thrown.
    /// `extraTimeout` extends the deadline for blocking commands (BRPOP's own timeout).
    public func send(_ arguments: [RedisArgument], extraTimeout: Double = 0) async throws -> RESPValue {
        try await pipeline([arguments], extraTimeout: extraTimeout)[0]
    }

    /// Sends several commands in one write; replies come back in the same order.
    public func pipeline(_ commands: [[RedisArgument]], extraTimeout: Double = 0) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var bytes: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &bytes) }
        let names = commands.map { $0.first.map { String(decoding: $0.bytes, as: UTF8.self) } ?? "?" }
        let deadline = Date().timeIntervalSince1970 + configuration.commandTimeout + extraTimeout
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[RESPValue], any Error>) in
            let sink = ReplyCollector(count: commands.count, continuation: continuation)
            // Registering the pending replies and writing the bytes happen under one lock, so the
            // order of the pending queue is the order of the bytes on the wire.
            writeLock.lock()
            defer { writeLock.unlock() }
            let failure: String? = stateLock.withLock {
                if let reason = closedReason { return reason }
                for (index, name) in names.enumerated() {
                    pending.append(Pending(sink: sink, index: index, command: name, deadline: deadline))
                }
                return nil
            }
            if let failure {
                sink.fail(RedisError.connectionClosed(address: address, reason: failure))
                return
            }
            do {
                try socket.sendAll(bytes)
            } catch {
                close(reason: "\(error)")
            }
        }
    }

    /// Puts the connection in subscriber mode (SUBSCRIBE): from then on every message published on
    /// `channels` is handed to `onMessage` on the reader thread, in order. Only SUBSCRIBE-mode commands
    /// may follow; watch `isClosed` (or `waitUntilClosed`) to resubscribe on a new connection.
    public func subscribe(_ channels: [String],
                          onMessage: @escaping @Sendable (_ channel: String, _ payload: [UInt8]) -> Void) async throws {
        stateLock.withLock { self.onMessage = onMessage }
        // One SUBSCRIBE per channel: each has exactly one confirmation reply.
        let replies = try await pipeline(channels.map { ["SUBSCRIBE", RedisArgument($0)] })
        for reply in replies {
            if case .error(let message) = reply { throw RedisError.server(command: "SUBSCRIBE", message: message) }
        }
    }

    /// Returns once the connection has failed or been closed, or the calling task is cancelled. A
    /// subscriber has no command pending, so a dead peer would go unnoticed: a PING every `pingEvery`
    /// seconds finds it (and closes the connection when it gets no answer).
    public func waitUntilClosed(pingEvery: Double = 10) async {
        var sincePing = 0.0
        while !isClosed, !Task.isCancelled {
            try? await Task.sleep(nanoseconds: 200_000_000)
            sincePing += 0.2
            if sincePing >= pingEvery, !Task.isCancelled {
                sincePing = 0
                if (try? await send(["PING"])) == nil { close(reason: "no answer to PING") }
            }
        }
    }

    /// Closes the socket and fails every pending command. Safe to call more than once.
    public func close(reason: String = "closed by client") {
        let failed: Deque<Pending> = stateLock.withLock {
            if closedReason == nil { closedReason = reason }
            let all = pending
            pending.removeAll()
            return all
        }
        socket.shutdown()
        for item in failed {
            item.sink.fail(RedisError.connectionClosed(address: address, reason: reason))
        }
    }

    private func readLoop() {
        let reader = RESPReader()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !isClosed {
            do {
                let ready = try socket.waitFor(events: Int16(POLLIN), timeout: 0.1, operation: "read")
                if !ready {
                    try checkDeadline()
                    continue
                }
                let n = try buffer.withUnsafeMutableBytes { try socket.receive(into: $0) }
                if n == 0 { close(reason: "server closed the connection"); break }
                try buffer.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                while let reply = try reader.next() {
                    if let handler = stateLock.withLock({ onMessage }), let (channel, payload) = Self.published(reply) {
                        handler(channel, payload)
                        continue
                    }
                    let item: Pending? = stateLock.withLock { pending.popFirst() }
                    guard let item else {
                        close(reason: "unexpected reply with no command pending")
                        return
                    }
                    item.sink.deliver(reply, at: item.index)
                }
                try checkDeadline()
            } catch let error as RedisError {
                close(reason: error.description)
            } catch {
                close(reason: "\(error)")
            }
        }
    }

    /// A pushed `["message", channel, payload]` (subscriber mode), or nil.
    private static func published(_ reply: RESPValue) -> (String, [UInt8])? {
        guard let parts = reply.array, parts.count == 3, parts[0].string == "message",
              let channel = parts[1].string, let payload = parts[2].bytes else { return nil }
        return (channel, payload)
    }

    private func checkDeadline() throws {
        let now = Date().timeIntervalSince1970
        let late: Pending? = stateLock.withLock {
            guard let first = pending.first, first.deadline < now else { return nil }
            return first
        }
        if let late {
            let timeout = RedisError.timeout(command: late.command, address: address, seconds: configuration.commandTimeout)
            close(reason: timeout.description)
        }
    }
}

/// Gathers the replies of one pipeline and resumes its caller once, with all of them or the first error.
private final class ReplyCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [RESPValue?]
    private var remaining: Int
    private var continuation: CheckedContinuation<[RESPValue], any Error>?

    init(count: Int, continuation: CheckedContinuation<[RESPValue], any Error>) {
        replies = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
    }

    func fail(_ error: any Error) {
        let c: CheckedContinuation<[RESPValue], any Error>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        c?.resume(throwing: error)
    }

    func deliver(_ reply: RESPValue, at index: Int) {
        let done: (CheckedContinuation<[RESPValue], any Error>, [RESPValue])? = lock.withLock {
            guard continuation != nil else { return nil }
            replies[index] = reply
            remaining -= 1
            guard remaining == 0, let c = continuation else { return nil }
            continuation = nil
            return (c, replies.map { $0 ?? .null })
        }
        if let (c, values) = done { c.resume(returning: values) }
    }
}
