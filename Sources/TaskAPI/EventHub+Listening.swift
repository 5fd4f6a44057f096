import Foundation
import TaskProtocol
import TaskQueue

extension EventHub {
    /// Subscribes to the event channels and keeps the subscription (a lost one is renewed after a
    /// second, marking the gap); sends keep-alives to every client.
    func startListening() {
        let listener = Task { [self] in
            var first = true
            while !Task.isCancelled, !state.withLock({ $0.closed }) {
                do {
                    let subscriber = try await broker.subscriber()
                    let closed = state.withLock { state in
                        if !first { state.gap = state.seq }
                        state.subscriber = subscriber
                        return state.closed
                    }
                    if closed { subscriber.close(); return }
                    first = false
                    try await subscriber.psubscribe([broker.eventChannels]) { [weak self] _, payload in self?.receive(payload) }
                    await subscriber.waitUntilClosed()
                } catch {
                    logger.warning("events: subscription failed: \(error)")
                }
                try? await Task.sleep(nanoseconds: 1_000_000_000)  // back off before subscribing again
            }
        }
        let keepalive = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(configuration.keepaliveSeconds))
                let clients = state.withLock { Array($0.clients.values) }
                for client in clients { client.yield(.keepalive) }
            }
        }
        state.withLock { $0.tasks += [listener, keepalive] }
    }
}
