import Sockets

/// Subscriber mode and the keep-alive wait.
extension RedisConnection {
    /// Puts the connection in subscriber mode (SUBSCRIBE): from then on every message published on
    /// `channels` is handed to `onMessage` on the loop thread, in order (keep it short: it holds up
    /// every socket of that loop). Only SUBSCRIBE-mode commands may follow; watch `isClosed` (or
    /// `waitUntilClosed`) to resubscribe on a new connection.
    public func subscribe(_ channels: [String],
                          onMessage: @escaping @Sendable (_ channel: String, _ payload: [UInt8]) -> Void) async throws {
        try await enterSubscriberMode("SUBSCRIBE", channels, onMessage)
    }

    /// Like `subscribe`, for glob patterns (PSUBSCRIBE); `onMessage` gets the channel that matched.
    public func psubscribe(_ patterns: [String],
                           onMessage: @escaping @Sendable (_ channel: String, _ payload: [UInt8]) -> Void) async throws {
        try await enterSubscriberMode("PSUBSCRIBE", patterns, onMessage)
    }

    private func enterSubscriberMode(_ command: String, _ names: [String],
                                     _ onMessage: @escaping @Sendable (String, [UInt8]) -> Void) async throws {
        // Queued before the commands, in the same inbox: set before any message can arrive.
        loop.execute { self.onMessage = onMessage }
        // One command per name: each has exactly one confirmation reply.
        let replies = try await pipeline(names.map { [RedisArgument(command), RedisArgument($0)] })
        for reply in replies {
            if case .error(let message) = reply { throw RedisError.server(command: command, message: message) }
        }
    }

    /// Returns once the connection has failed or been closed, or the calling task is cancelled. A
    /// subscriber has no command pending, so a dead peer would go unnoticed: a PING every `pingEvery`
    /// seconds finds it (and closes the connection when it gets no answer). Costs no thread and no
    /// polling: the wait is parked on the loop.
    public func waitUntilClosed(pingEvery: Double = 10) async {
        while !isClosed, !Task.isCancelled {
            await parkUntilClosed(upTo: pingEvery)
            if isClosed || Task.isCancelled { return }
            if (try? await send(["PING"])) == nil, !Task.isCancelled { close(reason: "no answer to PING") }
        }
    }

    /// Waits until the connection closes, `seconds` pass, or the task is cancelled.
    private func parkUntilClosed(upTo seconds: Double) async {
        let wait = CloseWait()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                loop.execute { self.park(wait, continuation, seconds: seconds) }
            }
        } onCancel: {
            loop.execute { self.release(wait) }
        }
    }

    private func park(_ wait: CloseWait, _ continuation: CheckedContinuation<Void, Never>, seconds: Double) {
        if wait.released || phase == .closed {
            continuation.resume()
            return
        }
        wait.continuation = continuation
        closeWaiters[ObjectIdentifier(wait)] = wait
        wait.timer = loop.schedule(at: loop.now &+ UInt64(max(0, seconds) * 1e9)) { [self] in release(wait) }
    }

    /// Resumes one parked wait (timer, cancellation, close); a wait not parked yet resumes as it parks.
    func release(_ wait: CloseWait) {
        wait.released = true
        closeWaiters[ObjectIdentifier(wait)] = nil
        if let timer = wait.timer { loop.cancelTimer(timer) }
        wait.timer = nil
        wait.continuation?.resume()
        wait.continuation = nil
    }
}
