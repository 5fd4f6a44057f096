import Sockets

/// The output side: callers on any thread append commands; whoever finds nobody writing sends.
extension RedisConnection {
    /// Queues a caller's commands: their replies are expected in this order, their bytes leave with
    /// whatever other callers append meanwhile. Off the loop, a caller that finds nobody writing
    /// writes itself; on the loop, the flush waits for the end of the turn.
    func submit(_ bytes: [UInt8], names: [String], sink: ReplyCollector, deadline: UInt64, seconds: Double) {
        let onLoop = loop.isOnLoop
        var failure: String?
        var arm = false
        var write = false
        var scheduleFlush = false
        shared.withLock { s in
            // Cancelled before it got here: nothing goes on the wire.
            if sink.isDone { return }
            guard s.accepting else {
                failure = s.closedReason ?? "not connected"
                return
            }
            for (index, name) in names.enumerated() {
                s.pending.append(Pending(sink: sink, index: index, command: name, deadline: deadline, seconds: seconds))
            }
            // Nothing waiting: the caller's buffer becomes the output buffer, uncopied.
            if s.out.isEmpty { s.out = bytes } else { s.out.append(contentsOf: bytes) }
            if deadline < s.armedDeadline {
                s.armedDeadline = deadline
                arm = true
            }
            guard !s.writer && !s.waitingWritable && !s.flushScheduled else { return }
            if onLoop {
                s.flushScheduled = true
                scheduleFlush = true
            } else {
                s.writer = true
                write = true
            }
        }
        if let failure {
            sink.fail(RedisError.connectionClosed(address: address, reason: failure))
            return
        }
        if arm { loop.execute { self.arm(deadline) } }
        if scheduleFlush {
            loop.atEndOfTurn { [self] in
                let mine = shared.withLock { s -> Bool in
                    s.flushScheduled = false
                    guard !s.writer && !s.waitingWritable else { return false }
                    s.writer = true
                    return true
                }
                if mine { writeOut() }
            }
        }
        if write { writeOut() }
    }

    /// Sends the output buffer until it is empty, as the one writer (any thread). On EAGAIN the rest
    /// goes back to the front of the buffer and the loop takes over when the socket is writable.
    func writeOut() {
        while true {
            let (chunk, fd, closeFD) = shared.withLock { s -> ([UInt8], Int32, Bool) in
                guard s.accepting, !s.out.isEmpty else {
                    s.writer = false
                    return ([], s.takeDeferredClose(), s.closeWhenWriterStops)
                }
                var chunk: [UInt8] = []
                swap(&chunk, &s.out)
                return (chunk, s.fd, false)
            }
            if chunk.isEmpty {
                if closeFD && fd >= 0 { StreamIO.close(fd) }
                return
            }
            var sent = 0
            while sent < chunk.count {
                let result: IOResult<Int>
                do {
                    result = try chunk.withUnsafeBytes { raw in
                        try StreamIO.send(fd, UnsafeRawBufferPointer(rebasing: raw[sent...]))
                    }
                } catch {
                    stopWriting(keeping: [])
                    loop.execute { self.closeNow(reason: "\(error)") }
                    return
                }
                switch result {
                case .done(let count):
                    sent += count
                    writeCalls.wrappingAdd(1, ordering: .relaxed)
                case .wouldBlock:
                    stopWriting(keeping: Array(chunk[sent...]), waitForWritable: true)
                    loop.execute { self.watchWritable() }
                    return
                }
            }
        }
    }

    /// The writer stops early: unsent bytes go back in front of what was appended meanwhile.
    private func stopWriting(keeping rest: [UInt8], waitForWritable: Bool = false) {
        let (fd, closeFD) = shared.withLock { s -> (Int32, Bool) in
            if !rest.isEmpty && s.accepting { s.out = rest + s.out }
            s.writer = false
            s.waitingWritable = waitForWritable && s.accepting
            return (s.takeDeferredClose(), s.closeWhenWriterStops)
        }
        if closeFD && fd >= 0 { StreamIO.close(fd) }
    }

    /// Loop: the socket was full; watch for writability (a no-op once it is already watched).
    func watchWritable() {
        guard !watchingWritable, phase == .ready || phase == .handshaking, fd >= 0 else { return }
        watchingWritable = true
        do { try loop.modify(fd, events: [.readable, .writable]) } catch { closeNow(reason: "\(error)") }
    }

    /// Loop: writable again; send the rest, and stop watching once everything is out.
    func resumeWriting() {
        let mine = shared.withLock { s -> Bool in
            s.waitingWritable = false
            guard !s.writer else { return false }
            s.writer = true
            return true
        }
        if mine { writeOut() }
        let stillWaiting = shared.withLock { $0.waitingWritable }
        if !stillWaiting && watchingWritable && phase != .closed {
            watchingWritable = false
            do { try loop.modify(fd, events: .readable) } catch { closeNow(reason: "\(error)") }
        }
    }

    /// Commands whose replies are still expected (for tests).
    var pendingCount: Int { shared.withLock { $0.pending.count } }
}

extension RedisConnection.Shared {
    /// For a writer that stops: the descriptor to close if the connection closed meanwhile (else -1).
    /// `closeWhenWriterStops` stays set so the caller knows; the descriptor is forgotten here.
    mutating func takeDeferredClose() -> Int32 {
        guard closeWhenWriterStops else { return -1 }
        let descriptor = fd
        fd = -1
        return descriptor
    }
}
