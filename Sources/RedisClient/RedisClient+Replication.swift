/// Replica-acknowledged writes (`minReplicasAck`): Redis replicates asynchronously, so a write the
/// master confirmed is lost if the master dies before sending it on. With `minReplicasAck` N, each
/// script (unless called with `confirm: false`) and transaction is followed on the same connection by
/// `WAIT N timeout`; fewer than N
/// replicas in time throws a connectivity error (`NOREPLICAS`: the API answers 503, a worker retries).
/// The write may still have happened (on the master, and maybe on fewer replicas): callers retry
/// with the same idempotency key or task id, which is why every Celeriac write is safe to repeat.
extension RedisClient {
    /// Waits until `minReplicasAck` replicas have every write sent so far on `connection`.
    func confirmReplicated(on connection: RedisConnection) async throws {
        let needed = configuration.minReplicasAck
        guard needed > 0 else { return }
        let timeout = configuration.replicaAckTimeoutMilliseconds
        let reply = try await connection.send(["WAIT", RedisArgument(needed), RedisArgument(timeout)],
                                              extraTimeout: Double(timeout) / 1000)
        let count = Int(try reply.throwingError(command: "WAIT").integer ?? 0)
        if count < needed {
            throw RedisError.server(command: "WAIT", message: "NOREPLICAS \(count) of \(needed) replicas acknowledged the write "
                                    + "within \(timeout) ms (--min-replicas-ack)")
        }
    }
}
