import Glibc
import Synchronization

/// A small set of event loops that grows on demand: an HTTP server asks for as many as it has
/// listeners, a Redis connection takes `next()`. A process without a server (a worker) runs one
/// loop for all its Redis sockets, so its thread count does not grow with queues or concurrency.
public final class EventLoopGroup: Sendable {
    /// The process's loops: HTTP and Redis share them.
    public static let shared = EventLoopGroup(name: "celeriac-loop")

    private let name: String
    private let loops = Mutex<[EventLoop]>([])
    private let counter = Atomic<Int>(0)

    /// An empty group; loops start when first asked for.
    public init(name: String) {
        self.name = name
    }

    /// The first `count` loops, starting those not running yet.
    public func loops(_ count: Int) throws -> [EventLoop] {
        try loops.withLock { loops in
            while loops.count < count {
                let loop = try EventLoop(name: "\(name)-\(loops.count)")
                try loop.start()
                loops.append(loop)
            }
            return Array(loops.prefix(count))
        }
    }

    /// A loop for a new client connection: round-robin over the running loops (starting one if none).
    public func next() throws -> EventLoop {
        let running = try loops.withLock { loops -> [EventLoop] in
            if loops.isEmpty {
                let loop = try EventLoop(name: "\(name)-0")
                try loop.start()
                loops.append(loop)
            }
            return loops
        }
        let index = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        return running[index % running.count]
    }

    /// How many loops run (each is one thread).
    public var count: Int { loops.withLock { $0.count } }
}
