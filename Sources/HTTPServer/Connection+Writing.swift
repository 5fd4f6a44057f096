import Glibc
import Sockets

/// Response encoding, sending, and epoll interest.
extension Connection {
    // MARK: Writing

    func onWritable() {
        guard phase == .open else { return }
        flush()
        updateDeadline()
    }

    /// Sends what the kernel takes; watches for writability when it takes less than everything.
    func flush() {
        while outSent < out.count {
            let result: IOResult<Int>
            do {
                result = try out.withUnsafeBytes { raw in
                    try StreamIO.send(fd, UnsafeRawBufferPointer(rebasing: raw[outSent...]))
                }
            } catch {
                closeNow()
                return
            }
            switch result {
            case .done(let count):
                outSent += count
                writeBlockedSince = 0
            case .wouldBlock:
                if writeBlockedSince == 0 { writeBlockedSince = loop.now }
                watch(writable: true)
                resumeStreamWriterIfBelowHighWater()
                if !outputPaused && out.count - outSent > Self.outputHighWater {
                    outputPaused = true
                    updateInterest()
                }
                return
            }
        }
        if out.capacity > 1 << 16 { out = [] } else { out.removeAll(keepingCapacity: true) }
        outSent = 0
        writeBlockedSince = 0
        watch(writable: false)
        resumeStreamWriterIfBelowHighWater()
        if closeAfterFlush {
            beginLinger()
        } else if let session {
            if outputPaused {
                outputPaused = false
                updateInterest()
            }
            session.transportWritable()
        } else if outputPaused {
            outputPaused = false
            updateInterest()
            startNext()
        }
    }

    func resumeStreamWriterIfBelowHighWater() {
        if let waiter = streamWaiter, out.count - outSent <= Self.outputHighWater {
            streamWaiter = nil
            waiter.resume()
        }
    }

    func setReading(_ enabled: Bool) {
        readEnabled = enabled
        updateInterest()
    }

    var wantsReadable: Bool { (readEnabled && !outputPaused) || phase == .lingering }

    func watch(writable: Bool) {
        if watching.contains(.writable) == writable { return }
        watching = (writable ? EpollEvents.writable : []).union(wantsReadable ? .readable : [])
        apply()
    }

    func updateInterest() {
        var wanted: EpollEvents = []
        if wantsReadable { wanted.insert(.readable) }
        if watching.contains(.writable) { wanted.insert(.writable) }
        if wanted != watching {
            watching = wanted
            apply()
        }
    }

    func apply() {
        guard phase != .closed else { return }
        do { try loop.eventLoop.modify(fd, events: watching) } catch { closeNow() }
    }
}
