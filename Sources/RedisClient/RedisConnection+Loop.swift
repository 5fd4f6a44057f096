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
            try loop.register(fd, events: connected ? .readable : .writable, handler: self)
            if connected { didConnect() }
        } catch {
            if fd >= 0 { StreamIO.close(fd) }
            fd = -1
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
            lastConnectError = "\(error)"
            connectNextCandidate()
            return
        }
        didConnect()
    }

    /// Connected: AUTH and SELECT go first, pipelined; the caller of `connect` resumes on their replies.
    private func didConnect() {
        phase = .handshaking
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
        enqueue(bytes, names: names, sink: collector, deadline: loop.now &+ UInt64(max(0, seconds) * 1e9), seconds: seconds)
    }

    private func becomeReady() {
        phase = .ready
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        connectWaiter?.resume()
        connectWaiter = nil
    }

    // MARK: Commands

    /// Queues a caller's commands: their replies are expected in this order, their bytes leave at
    /// the end of the loop turn together with everyone else's.
    func enqueue(_ bytes: [UInt8], names: [String], sink: ReplyCollector, deadline: UInt64, seconds: Double) {
        // Cancelled before it got here: nothing goes on the wire.
        if sink.isDone { return }
        guard phase == .ready || phase == .handshaking else {
            sink.fail(RedisError.connectionClosed(address: address, reason: closedReason ?? "not connected"))
            return
        }
        for (index, name) in names.enumerated() {
            pending.append(Pending(sink: sink, index: index, command: name, deadline: deadline, seconds: seconds))
        }
        out.append(contentsOf: bytes)
        arm(deadline)
        if !flushScheduled && !watchingWritable {
            flushScheduled = true
            loop.atEndOfTurn { [self] in
                flushScheduled = false
                flush()
            }
        }
    }

    /// Sends what the kernel takes; watches for writability when it takes less than everything.
    func flush() {
        guard fd >= 0, phase == .ready || phase == .handshaking else { return }
        while outSent < out.count {
            let result: IOResult<Int>
            do {
                result = try out.withUnsafeBytes { raw in
                    try StreamIO.send(fd, UnsafeRawBufferPointer(rebasing: raw[outSent...]))
                }
            } catch {
                closeNow(reason: "\(error)")
                return
            }
            switch result {
            case .done(let count):
                outSent += count
                writeCalls += 1
            case .wouldBlock:
                if !watchingWritable {
                    watchingWritable = true
                    watch([.readable, .writable])
                }
                return
            }
        }
        if out.capacity > 1 << 20 { out = [] } else { out.removeAll(keepingCapacity: true) }
        outSent = 0
        if watchingWritable {
            watchingWritable = false
            watch(.readable)
        }
    }

    private func watch(_ events: EpollEvents) {
        do { try loop.modify(fd, events: events) } catch { closeNow(reason: "\(error)") }
    }

    /// A cancelled blocking command: if it is on the wire, the connection is held until the server's
    /// timeout, so it is closed (the caller already got its `CancellationError`).
    func abandonBlocking(_ sink: ReplyCollector) {
        if pending.contains(where: { $0.sink === sink }) {
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
        case .ready, .handshaking: flush()
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
        while phase != .closed, let reply = try reader.next() {
            if let onMessage, let (channel, payload) = Self.published(reply) {
                onMessage(channel, payload)
                continue
            }
            guard let item = pending.popFirst() else {
                closeNow(reason: "unexpected reply with no command pending")
                return
            }
            item.sink.deliver(reply, at: item.index)
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
    private func arm(_ deadline: UInt64) {
        guard deadline < timerDeadline else { return }
        if let deadlineTimer { loop.cancelTimer(deadlineTimer) }
        timerDeadline = deadline
        deadlineTimer = loop.schedule(at: deadline) { [self] in deadlinePassed() }
    }

    private func deadlinePassed() {
        deadlineTimer = nil
        timerDeadline = .max
        let now = loop.now
        if let late = pending.first(where: { $0.deadline <= now }) {
            // A reply that does not come means a hung server (or network): the connection is done.
            let timeout = RedisError.timeout(command: late.command, address: address, seconds: late.seconds)
            late.sink.fail(timeout)
            closeNow(reason: timeout.description)
            return
        }
        if let next = pending.lazy.map(\.deadline).min() { arm(next) }
    }

    // MARK: Closing

    /// Closes the socket and fails whoever waits: pending commands, the connect, `waitUntilClosed`.
    func closeNow(reason: String) {
        guard phase != .closed else { return }
        let wasConnecting = phase == .connecting || phase == .handshaking || phase == .idle
        phase = .closed
        markClosed()
        closedReason = reason
        if fd >= 0 {
            loop.deregister(fd)
            StreamIO.close(fd)
            fd = -1
        }
        for timer in [connectTimer, deadlineTimer].compactMap({ $0 }) { loop.cancelTimer(timer) }
        connectTimer = nil
        deadlineTimer = nil
        out = []
        outSent = 0
        let failed = pending
        pending.removeAll()
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
