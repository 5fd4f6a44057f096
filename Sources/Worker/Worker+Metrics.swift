import TaskQueue

extension Worker {
    /// Sets the gauges that are read rather than counted (tasks running and prefetched, and the length
    /// of each consumed queue): called just before a scrape, so they cost nothing between scrapes.
    /// A Redis failure leaves the queue lengths as they were and is thrown to the caller.
    public func refreshGauges() async throws {
        let (running, waiting) = state.withLock { ($0.inFlight.count, $0.prefetched.count) }
        metrics.active.record(running)
        metrics.prefetched.record(waiting)
        let depths = try await broker.queueDepths(configuration.queues)
        for (name, waiting) in depths.queues { metrics.queueLength(name, waiting) }
    }

    /// Whether this worker takes work now and reaches Redis: what its `/readyz` answers.
    public func isReady() async -> Bool {
        guard !isStopping else { return false }
        do { try await broker.ping() } catch { return false }
        return true
    }
}
