import Sockets

/// The loop side of a `BodyWriter`: hands each chunk to the connection on its loop thread and
/// resumes the writer once the chunk is queued (or, past the high-water mark, once it drains).
final class StreamSink: Sendable {
    let loop: EventLoop
    let reference: ConnectionReference
    let sequence: UInt64

    init(loop: EventLoop, reference: ConnectionReference, sequence: UInt64) {
        self.loop = loop
        self.reference = reference
        self.sequence = sequence
    }

    func write(_ bytes: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let reference = self.reference
            let sequence = self.sequence
            loop.execute { reference.connection.streamChunk(bytes, sequence: sequence, continuation: continuation) }
        }
    }
}
