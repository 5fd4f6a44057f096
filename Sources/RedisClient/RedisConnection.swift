import DequeModule
import Sockets
import Synchronization

/// One TCP or Unix connection to Redis: a nonblocking socket on an `EventLoop`, shared by many
/// concurrent callers. Replies come back in order and each resumes its own caller.
///
/// - Auto-pipelining: a command is appended to an output buffer. A caller off the loop that finds
///   nobody writing sends the buffer itself (no thread hop); callers that come while it writes only
///   append, and their commands leave in its next write. Callers on the loop (HTTP handlers) append
///   and the loop flushes once at the end of its turn; a full socket is drained by the loop when writable.
/// - Deadlines run on the loop's monotonic clock: `commandTimeout` (plus a blocking command's own
///   `extraTimeout`) after the call. A missed deadline means a hung server: the connection closes.
/// - A cancelled caller of a `cancellable` call stops waiting at once. Its command's reply, when it
///   comes, is discarded and the connection stays usable — except for a blocking command (BLMOVE,
///   BRPOP, …) already sent, which would hold the connection until its own timeout: cancelling one
///   closes the connection. A call that is not `cancellable` (the default) ignores cancellation.
/// - Any I/O error, protocol error or missed deadline closes the connection and fails every pending
///   command with a `RedisError` naming the address: a failed connection is discarded, never reused
///   (as hiredis does). hiredis is used as a codec only (formatter and reader).
///
/// No thread per connection: the loop thread does all the I/O of every connection on it.
public final class RedisConnection: @unchecked Sendable {
    enum Phase { case idle, connecting, handshaking, ready, closed }

    struct Pending {
        var sink: ReplyCollector
        var index: Int
        var command: String
        var deadline: UInt64
        var seconds: Double
    }

    /// A `waitUntilClosed` caller parked on the loop (loop-confined).
    final class CloseWait: @unchecked Sendable {
        var continuation: CheckedContinuation<Void, Never>?
        var released = false
        var timer: LoopTimer?
    }

    public let configuration: RedisConfiguration
    let loop: EventLoop
    let address: String
    private let closedFlag = Atomic<Bool>(false)

    /// What callers on any thread and the loop share: the output buffer and the replies expected.
    struct Shared {
        var out: [UInt8] = []
        var pending = Deque<Pending>()
        /// Commands are taken (from connect until close).
        var accepting = false
        var closedReason: String?
        /// A thread is sending `out` now; others append and leave (their bytes go in its next write).
        var writer = false
        /// The kernel took less than everything: the loop sends the rest once the socket is writable.
        var waitingWritable = false
        /// A loop-side flush is due at the end of the current turn.
        var flushScheduled = false
        /// Closed while a writer held the descriptor: the writer closes it when it stops.
        var closeWhenWriterStops = false
        /// The deadline the loop's timer is armed for (`.max`: none).
        var armedDeadline = UInt64.max
        var fd: Int32 = -1
    }

    let shared = Mutex(Shared())
    /// `send` calls that wrote bytes, for tests of auto-pipelining.
    let writeCalls = Atomic<Int>(0)

    // Everything below is confined to the loop thread (the extension in RedisConnection+Loop.swift).
    var phase = Phase.idle
    var fd: Int32 = -1
    var candidates: [ResolvedAddress] = []
    var lastConnectError = "no address to connect to"
    var connectWaiter: CheckedContinuation<Void, any Error>?
    var connectTimer: LoopTimer?
    var watchingWritable = false
    let reader = RESPReader()
    var deadlineTimer: LoopTimer?
    var timerDeadline = UInt64.max
    /// Subscriber mode: where published messages go (see `subscribe`).
    var onMessage: (@Sendable (_ channel: String, _ payload: [UInt8]) -> Void)?
    var closeWaiters: [ObjectIdentifier: CloseWait] = [:]

    init(configuration: RedisConfiguration, loop: EventLoop) {
        self.configuration = configuration
        self.loop = loop
        address = configuration.address.description
    }

    deinit {
        // Only reached unregistered (the loop keeps a registered connection alive): nothing pends.
        let fd = shared.withLock { $0.fd }
        if fd >= 0 { StreamIO.close(fd) }
    }

    /// Connects, authenticates and selects the database on a loop of the shared group, within
    /// `connectTimeout`. A host name is resolved on a short-lived thread (getaddrinfo blocks).
    public static func connect(_ configuration: RedisConfiguration, group: EventLoopGroup = .shared) async throws -> RedisConnection {
        let address = configuration.address
        let targets: [ResolvedAddress]
        do {
            if case .tcp(let host, _) = address, !Connector.isNumeric(host) {
                targets = try await offloaded("redis-resolve") { try Connector.resolve(address) }
            } else {
                targets = try Connector.resolve(address)
            }
        } catch {
            throw RedisError.connect(address: address.description, reason: "\(error)")
        }
        let loop: EventLoop
        do { loop = try group.next() } catch {
            throw RedisError.connect(address: address.description, reason: "\(error)")
        }
        let connection = RedisConnection(configuration: configuration, loop: loop)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute { connection.beginConnect(targets, continuation) }
        }
        return connection
    }

    /// The event loop that reads this connection's replies: a task preferring it resumes with no thread hop.
    public var executor: any TaskExecutor { loop }

    /// True once the connection failed or was closed; create a new one.
    public var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    func markClosed() { closedFlag.store(true, ordering: .releasing) }

    /// Sends one command and waits for its reply. Error replies are returned, not thrown.
    /// `extraTimeout` extends the deadline for blocking commands (BRPOP's own timeout); see
    /// `pipeline` for `cancellable`.
    public func send(_ arguments: [RedisArgument], extraTimeout: Double = 0, cancellable: Bool = false) async throws -> RESPValue {
        try await pipeline([arguments], extraTimeout: extraTimeout, cancellable: cancellable)[0]
    }

    /// Sends several commands back to back (with whatever other callers send in the same loop turn);
    /// replies come back in the same order.
    ///
    /// With `cancellable`, cancelling the calling task ends the wait at once with a `CancellationError`
    /// (see the type's notes for what happens to the command). Without it (the default) the call
    /// completes as if not cancelled: a write the caller must see confirmed, such as an ack or a hand
    /// back during a shutdown that cancels tasks, is never cut short.
    public func pipeline(_ commands: [[RedisArgument]], extraTimeout: Double = 0, cancellable: Bool = false) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var encoded: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &encoded) }
        let names = commands.map { $0.first.map { String(decoding: $0.bytes, as: UTF8.self) } ?? "?" }
        let blocking = cancellable && names.contains { Self.blockingCommands.contains($0.uppercased()) }
        return try await exchange(encoded, names: names, blocking: blocking, extraTimeout: extraTimeout, cancellable: cancellable)
    }

    /// Sends one command already encoded (a script call's, from its `RESPArguments`); `name` names it
    /// in errors. Not blocking, not cancellable.
    func send(encoded bytes: [UInt8], name: String) async throws -> RESPValue {
        try await exchange(bytes, names: [name], blocking: false, extraTimeout: 0, cancellable: false)[0]
    }

    /// Sends several commands already encoded, back to back; `names` names each, in order.
    func send(encoded bytes: [UInt8], names: [String]) async throws -> [RESPValue] {
        try await exchange(bytes, names: names, blocking: false, extraTimeout: 0, cancellable: false)
    }

    private func exchange(_ bytes: [UInt8], names: [String], blocking: Bool, extraTimeout: Double,
                          cancellable: Bool) async throws -> [RESPValue] {
        let seconds = configuration.commandTimeout + extraTimeout
        let deadline = MonotonicClock.nanoseconds() &+ UInt64(max(0, seconds) * 1e9)
        let collector = ReplyCollector(count: names.count)
        let wait = {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[RESPValue], any Error>) in
                collector.onCompletion { continuation.resume(with: $0) }
                self.submit(bytes, names: names, sink: collector, deadline: deadline, seconds: seconds)
            }
        }
        guard cancellable else { return try await wait() }
        return try await withTaskCancellationHandler {
            try await wait()
        } onCancel: {
            if collector.cancel() && blocking {
                loop.execute { self.abandonBlocking(collector) }
            }
        }
    }

    /// Blocking commands: a cancelled one already on the wire holds the connection, which then closes.
    static let blockingCommands: Set<String> = ["BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN",
                                                "BZPOPMAX", "BZMPOP", "XREAD", "XREADGROUP", "WAIT", "WAITAOF"]

    /// Closes the socket and fails every pending command. Safe to call more than once, from anywhere.
    public func close(reason: String = "closed by client") {
        markClosed()
        loop.execute { self.closeNow(reason: reason) }
    }
}
