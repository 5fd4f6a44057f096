import RedisClient
import Synchronization

/// Coalesces concurrent `Broker.enqueue` calls into `Enqueue` script calls, so that Redis's time per
/// task is mostly the task's own writes, not the script's fixed cost. Two ways, by where the caller runs:
/// - On an event loop (an HTTP handler): the messages of one loop turn leave together at its end, as
///   the loop's Redis writes do (`EnqueueBatcher+Turn.swift`): no wait for a call in flight.
/// - Elsewhere: a call that finds no script call in flight sends its own message at once (an idle
///   producer adds no wait); calls that come while one is in flight queue, and when it returns the
///   oldest of them is woken to lead the next call, which publishes every message queued by then. No
///   task or thread of its own: the callers take turns (a leader's own reply waits only for its own call).
///
/// Each caller still returns only once Redis has acknowledged its own message (the `202` rule), and
/// gets its own outcome: a message whose key holds the wrong type fails alone, while a failed call
/// (Redis unreachable, a script error) fails each message in it with that same error.
final class EnqueueBatcher: Sendable {
    /// What must be equal for messages to share one script call.
    struct Shape: Equatable, Sendable {
        var indexKeys: [String]
        var recordTTL: Int
        var index: TaskIndex
    }

    /// What a queued caller is woken for.
    enum Turn: Sendable {
        /// Its message is in Redis.
        case published
        /// It sends the next script call (its own message among them).
        case lead
    }

    /// A queued message and the caller waiting for it.
    struct Job: Sendable {
        var entry: Enqueue.Entry
        var shape: Shape
        var continuation: CheckedContinuation<Turn, any Error>
    }

    struct State {
        var waiting: [Job] = []
        /// A script call is in flight (or its next leader is being woken): new messages queue.
        var busy = false
    }

    /// Most messages in one script call: a bigger batch would hold Redis (every other client) longer, and
    /// a turn's calls are answered one by one as Redis finishes each, so with 32 (not 128) the first
    /// streams of an HTTP/2 connection's burst of 100 are answered, and their next requests read, while
    /// Redis still runs the rest (bench/http2: one connection ~16k → ~25k req/s); 32 calls' fixed cost
    /// stays ~1 µs per message.
    static let maxBatch = 32

    let redis: RedisClient
    private let state = Mutex(State())
    /// Each event loop's messages of its current turn (`EnqueueBatcher+Turn.swift`).
    let turns = Mutex<[ObjectIdentifier: [Job]]>([:])

    init(redis: RedisClient) { self.redis = redis }

    /// Messages queued for the next call (tests wait on it).
    var queuedCount: Int { state.withLock { $0.waiting.count } }

    /// Publishes `entry`; returns once Redis has it, throws what publishing it failed with.
    nonisolated(nonsending) func enqueue(_ entry: Enqueue.Entry, shape: Shape) async throws {
        if let turn = LoopTurn.current { return try await enqueueInTurn(of: turn, entry, shape: shape) }
        if !state.withLock({ $0.claimIfIdle() }) {
            let turn = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Turn, any Error>) in
                let job = Job(entry: entry, shape: shape, continuation: continuation)
                let idle = state.withLock { s -> Bool in
                    if s.claimIfIdle() { return true }
                    s.waiting.append(job)
                    return false
                }
                // The call in flight returned between the two looks: this one leads after all.
                if idle { continuation.resume(returning: .lead) }
            }
            if case .published = turn { return }
        }
        // Leading: this message, and the others queued by now that share its shape.
        let others = state.withLock { $0.take(shape: shape, atMost: Self.maxBatch - 1) }
        let outcome = await publish([entry] + others.map(\.entry), shape: shape)
        // The next leader first: its call goes out while these callers are being answered.
        if let next = state.withLock({ $0.nextLeader() }) { next.continuation.resume(returning: .lead) }
        for (k, job) in others.enumerated() {
            job.continuation.resume(with: outcome.flatMap { $0[k + 1] }.map { .published })
        }
        try outcome.get()[0].get()
    }

    /// One script call for `entries`: the call's own failure, or each entry's outcome.
    func publish(_ entries: [Enqueue.Entry], shape: Shape) async -> Result<[Result<Void, any Error>], any Error> {
        do {
            let outcomes = try await Enqueue(entries: entries, indexKeys: shape.indexKeys, recordTTL: shape.recordTTL,
                                             index: shape.index).publish(on: redis)
            return .success(outcomes.map { refusal in
                if let refusal { .failure(RedisError.server(command: "EVALSHA(\(Enqueue.script.name))", message: refusal)) } else { .success(()) }
            })
        } catch {
            return .failure(error)
        }
    }
}

extension EnqueueBatcher.State {
    /// Takes the right to send the next call when none is in flight.
    mutating func claimIfIdle() -> Bool {
        if busy { return false }
        busy = true
        return true
    }

    /// The queued jobs of `shape`, oldest first, at most `limit` (messages of brokers with other index
    /// bounds or prefixes, rare, wait for a leader of their own).
    mutating func take(shape: EnqueueBatcher.Shape, atMost limit: Int) -> [EnqueueBatcher.Job] {
        var taken: [EnqueueBatcher.Job] = []
        var kept: [EnqueueBatcher.Job] = []
        for job in waiting {
            if taken.count < limit && job.shape == shape { taken.append(job) } else { kept.append(job) }
        }
        waiting = kept
        return taken
    }

    /// The oldest queued job, to lead the next call; none (and the batcher idle) when none is queued.
    mutating func nextLeader() -> EnqueueBatcher.Job? {
        guard !waiting.isEmpty else {
            busy = false
            return nil
        }
        return waiting.removeFirst()
    }
}
