import DequeModule
import Sockets

/// The loop side: connect, handshake, output buffer, replies, deadlines, close. Loop thread only.
extension RedisConnection: EventHandler {
    // MARK: Connecting

    func beginConnect(_ targets: [ResolvedAddress], _ waiter: CheckedContinuation<Void, any Error>) {
        connectWaiter = waiter
        candidates = targets
        phase = .connecting
        let seconds = configuration.connectTimeout
        connectTimer = loop.schedule(at: loop.now &+ UInt64(max(0, seconds) * 1e9)) { [self] in
            connectTimer = nil
            closeNow(reason: "no connection, AUTH or SELECT within \(seconds)s")
        }
        connectNextCandidate()
    }

    /// Tries the next resolved address (a host name may have several), or fails the connect.
    private func connectNextCandidate() {
        guard phase == .connecting else { return }
        guard !candidates.isEmpty else {
            closeNow(reason: lastConnectError)
            return
        }
        let target = candidates.removeFirst()
        do {
            let (socket, connected) = try Connector.start(target, name: address)
            fd = socket
            shared.withLock { $0.fd = socket }
            try loop.register(fd, events: connected ? .readable : .writable, handler: self)
            if connected { didConnect() }
        } catch {
            if fd >= 0 { StreamIO.close(fd) }
            fd = -1
            shared.withLock { $0.fd = -1 }
            lastConnectError = "\(error)"
            connectNextCandidate()
        }
    }

    private func finishConnect() {
        do {
            try Connector.finish(fd, name: address)
            try loop.modify(fd, events: .readable)
        } catch {
            loop.deregister(fd)
            StreamIO.close(fd)
            fd = -1
            shared.withLock { $0.fd = -1 }
            lastConnectError = "\(error)"
            connectNextCandidate()
            return
        }
        didConnect()
    }

    /// Connected: AUTH and SELECT go first, pipelined; the caller of `connect` resumes on their replies.
    private func didConnect() {
        phase = .handshaking
        shared.withLock { $0.accepting = true }
        var commands: [[RedisArgument]] = []
        if let password = configuration.password {
            if let user = configuration.username { commands.append(["AUTH", RedisArgument(user), RedisArgument(password)]) }
            else { commands.append(["AUTH", RedisArgument(password)]) }
        }
        if configuration.database != 0 { commands.append(["SELECT", RedisArgument(configuration.database)]) }
        guard !commands.isEmpty else {
            becomeReady()
            return
        }
        var bytes: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &bytes) }
        let names = commands.map { String(decoding: $0[0].bytes, as: UTF8.self) }
        let collector = ReplyCollector(count: commands.count)
        collector.onCompletion { [self] outcome in
            // Delivered on the loop thread (replies and failures both come from here).
            guard phase == .handshaking else { return }
            guard case .success(let replies) = outcome else { return }
            for (name, reply) in zip(names, replies) {
                if case .error(let message) = reply {
                    closeNow(reason: "\(name) failed: \(message)")
                    return
                }
            }
            becomeReady()
        }
        let seconds = configuration.connectTimeout
        submit(bytes, names: names, sink: collector, deadline: loop.now &+ UInt64(max(0, seconds) * 1e9), seconds: seconds)
    }

    private func becomeReady() {
        phase = .ready
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        connectWaiter?.resume()
        connectWaiter = nil
    }

    // MARK: Commands

    /// A cancelled blocking command: if it is on the wire, the connection is held until the server's
    /// timeout, so it is closed (the caller already got its `CancellationError`).
    func abandonBlocking(_ sink: ReplyCollector) {
        if shared.withLock({ $0.pending.contains(where: { $0.sink === sink }) }) {
            closeNow(reason: "a blocking command's caller was cancelled")
        }
    }

    // MARK: Events

    /// Reads what arrived and hands each reply to its caller (or a published message to `onMessage`).
    public func readable(hangup: Bool) {
        guard phase == .ready || phase == .handshaking else {
            if hangup { closeNow(reason: "server closed the connection") }
            return
        }
        // Bounded, so one busy connection cannot starve the others on this loop.
        for _ in 0..<16 {
            let result: IOResult<Int>
            do {
                result = try StreamIO.read(fd, into: loop.scratch)
            } catch {
                closeNow(reason: "\(error)")
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .done(0):
                closeNow(reason: "server closed the connection")
                return
            case .done(let count):
                do {
                    try reader.feed(UnsafeRawBufferPointer(rebasing: loop.scratch[0..<count]))
                    try deliverReplies()
                } catch {
                    closeNow(reason: "\(error)")
                    return
                }
                if phase == .closed || count < loop.scratch.count { return }
            }
        }
    }

    /// Completes a nonblocking connect, or sends more of the output buffer.
    public func writable() {
        switch phase {
        case .connecting: finishConnect()
        case .ready, .handshaking: resumeWriting()
        case .idle, .closed: return
        }
    }

    /// A socket error: the next address is tried while connecting, else the connection closes.
    public func failed() {
        if phase == .connecting {
            finishConnect()
        } else {
            closeNow(reason: "socket error")
        }
    }

    private func deliverReplies() throws {
        var replies: [RESPValue] = []
        while let reply = try reader.next() { replies.append(reply) }
        var index = 0
        while index < replies.count, phase != .closed {
            if let onMessage, let (channel, payload) = Self.published(replies[index]) {
                onMessage(channel, payload)
                index += 1
                continue
            }
            // Replies up to the next published message are matched with their commands under one lock.
            var end = index
            while end < replies.count, onMessage == nil || Self.published(replies[end]) == nil { end += 1 }
            let wanted = end - index
            let items = shared.withLock { s -> [Pending] in
                let count = min(wanted, s.pending.count)
                let taken = Array(s.pending.prefix(count))
                s.pending.removeFirst(count)
                return taken
            }
            for (offset, item) in items.enumerated() { item.sink.deliver(replies[index + offset], at: item.index) }
            if items.count < wanted {
                closeNow(reason: "unexpected reply with no command pending")
                return
            }
            index = end
        }
    }

    /// A pushed `["message", channel, payload]` or `["pmessage", pattern, channel, payload]`, or nil.
    private static func published(_ reply: RESPValue) -> (String, [UInt8])? {
        guard let parts = reply.array else { return nil }
        if parts.count == 3, parts[0].string == "message", let channel = parts[1].string, let payload = parts[2].bytes {
            return (channel, payload)
        }
        if parts.count == 4, parts[0].string == "pmessage", let channel = parts[2].string, let payload = parts[3].bytes {
            return (channel, payload)
        }
        return nil
    }

    // MARK: Deadlines

    /// Makes sure the loop looks at the pending commands by `deadline`.
    func arm(_ deadline: UInt64) {
        guard deadline < timerDeadline, phase != .closed else { return }
        if let deadlineTimer { loop.cancelTimer(deadlineTimer) }
        timerDeadline = deadline
        deadlineTimer = loop.schedule(at: deadline) { [self] in deadlinePassed() }
    }

    private func deadlinePassed() {
        deadlineTimer = nil
        timerDeadline = .max
        let now = loop.now
        let (late, next) = shared.withLock { s -> (Pending?, UInt64) in
            if let late = s.pending.first(where: { $0.deadline <= now }) { return (late, .max) }
            let next = s.pending.lazy.map(\.deadline).min() ?? .max
            s.armedDeadline = next
            return (nil, next)
        }
        if let late {
            // A reply that does not come means a hung server (or network): the connection is done.
            let timeout = RedisError.timeout(command: late.command, address: address, seconds: late.seconds)
            late.sink.fail(timeout)
            closeNow(reason: timeout.description)
            return
        }
        if next != .max { arm(next) }
    }

    // MARK: Closing

    /// Closes the socket and fails whoever waits: pending commands, the connect, `waitUntilClosed`.
    func closeNow(reason: String) {
        guard phase != .closed else { return }
        let wasConnecting = phase == .connecting || phase == .handshaking || phase == .idle
        phase = .closed
        markClosed()
        let (failed, closeFD) = shared.withLock { s -> (Deque<Pending>, Bool) in
            s.accepting = false
            s.closedReason = reason
            s.out = []
            s.waitingWritable = false
            // A caller thread sending right now still uses the descriptor: it closes it when it stops.
            if s.writer { s.closeWhenWriterStops = true } else { s.fd = -1 }
            let failed = s.pending
            s.pending.removeAll()
            return (failed, !s.writer)
        }
        if fd >= 0 {
            loop.deregister(fd)
            if closeFD { StreamIO.close(fd) }
            fd = -1
        }
        for timer in [connectTimer, deadlineTimer].compactMap({ $0 }) { loop.cancelTimer(timer) }
        connectTimer = nil
        deadlineTimer = nil
        for item in failed { item.sink.fail(RedisError.connectionClosed(address: address, reason: reason)) }
        if let waiter = connectWaiter {
            connectWaiter = nil
            waiter.resume(throwing: wasConnecting ? RedisError.connect(address: address, reason: reason)
                                                  : RedisError.connectionClosed(address: address, reason: reason))
        }
        for wait in Array(closeWaiters.values) { release(wait) }
        onMessage = nil
    }
}
