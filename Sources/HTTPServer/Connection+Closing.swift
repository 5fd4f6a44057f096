import Glibc
import Sockets

/// Lingering close, shutdown, and per-connection deadlines.
extension Connection {
    // MARK: Closing

    /// After the last response: half-close and read until the peer closes too, so a client still
    /// sending never turns our final response into a reset.
    func beginLinger() {
        guard phase == .open else { return }
        if peerClosed {
            closeNow()
            return
        }
        phase = .lingering
        StreamIO.shutdownWrite(fd)
        lingerDeadline = loop.now + loop.core.lingerTimeout
        updateInterest()
        updateDeadline()
    }

    func discardWhileLingering() {
        while true {
            let result = try? StreamIO.read(fd, into: loop.readBuffer)
            switch result {
            case .done(let count)? where count > 0:
                lingerBytes += count
                if lingerBytes > Self.maxLingerBytes {
                    closeNow()
                    return
                }
            case .wouldBlock?:
                return
            default:
                closeNow()
                return
            }
        }
    }

    func closeNow() {
        guard phase != .closed else { return }
        phase = .closed
        deadline = .max
        loop.eventLoop.deregister(fd)
        StreamIO.close(fd)
        loop.unregister(self)
        pending.removeAll()
        if let session {
            self.session = nil
            session.closed()
        }
        if let waiter = streamWaiter {
            streamWaiter = nil
            waiter.resume(throwing: SocketError("send(response body to \(peer))", code: EPIPE))
        }
    }

    /// Graceful shutdown: close now if idle, else after the responses already owed.
    func drain() {
        drainRequested = true
        if let session {
            session.drain()
            return
        }
        if phase == .open && !responding && pending.isEmpty && parser.isIdle && outSent == out.count {
            closeNow()
        }
    }

    /// End of the grace period: cancel the handler and close.
    func forceClose() {
        task?.cancel()
        task = nil
        closeNow()
    }

    // MARK: Deadlines

    func updateDeadline() {
        let core = loop.core
        var next = UInt64.max
        switch phase {
        case .closed:
            next = .max
        case .lingering:
            next = lingerDeadline
        case .open:
            if outSent < out.count && writeBlockedSince != 0 {
                next = writeBlockedSince + core.writeTimeout
            } else if let session {
                next = session.isIdle ? idleSince + core.idleTimeout : .max
            } else if readEnabled && !parser.isIdle {
                next = parser.isReadingBody ? bodyStart + core.bodyTimeout : requestStart + core.headerTimeout
            } else if responding || !pending.isEmpty {
                next = .max
            } else if readEnabled {
                next = idleSince + (servedAny ? core.idleTimeout : core.headerTimeout)
            }
        }
        deadline = next
        if next != .max { loop.scheduleTimer(next) }
    }

    func deadlinePassed() {
        switch phase {
        case .closed:
            return
        case .lingering:
            closeNow()
        case .open:
            if outSent < out.count && writeBlockedSince != 0 {
                closeNow()
            } else if let session {
                if session.isIdle {
                    idleSince = loop.now
                    session.idleTimedOut()
                }
                updateDeadline()
            } else if readEnabled && !parser.isIdle {
                let core = loop.core.configuration.timeouts
                let detail = parser.isReadingBody
                    ? "request body not received within \(core.body) s"
                    : "request head not received within \(core.header) s"
                queueFinal(HTTPError(status: 408, detail: detail))
                startNext()
                updateDeadline()
            } else if !responding && pending.isEmpty {
                closeNow()
            } else {
                updateDeadline()
            }
        }
    }
}
