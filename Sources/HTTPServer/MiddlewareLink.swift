/// One middleware of a router's chain and the rest of the chain after it. Everything is a `let`
/// reached from a borrowed link, and the per-request walk follows unretained pointers (the chain
/// holds its links for the router's life), so calling through the chain copies no reference and
/// returns no response through a stack of calls.
final class MiddlewareLink: @unchecked Sendable {
    let middleware: any HTTPMiddleware
    /// `middleware.observesResponses`, read once.
    let observes: Bool
    let next: MiddlewareLink?
    /// `next`, unretained (`next` holds it).
    private let following: Unmanaged<MiddlewareLink>?
    /// The nearest link before this one that observes responses, unretained (set once by `linked`,
    /// before any request; the links before hold it).
    @exclusivity(unchecked) private var earlierObserver: Unmanaged<MiddlewareLink>?

    private init(_ middleware: any HTTPMiddleware, next: MiddlewareLink?) {
        self.middleware = middleware
        observes = middleware.observesResponses
        self.next = next
        following = next.map { Unmanaged.passUnretained($0) }
    }

    /// The chain of `middleware` in order (nil when there is none).
    static func linked(_ middleware: [any HTTPMiddleware]) -> MiddlewareLink? {
        let first = middleware.reversed().reduce(nil) { next, middleware in MiddlewareLink(middleware, next: next) }
        var observer: Unmanaged<MiddlewareLink>?
        var link = first
        while let current = link {
            current.earlierObserver = observer
            if current.observes { observer = Unmanaged.passUnretained(current) }
            link = current.next
        }
        return first
    }

    /// `willRespond` of this middleware and those after it until one answers: the last one that ran
    /// (where `didRespond` starts), and the answer. Not inlined: the caller is an async function, and
    /// an answer built inline would be kept in its frame.
    @inline(never)
    func willRespond(to request: HTTPRequest, route: MatchedRoute) -> (Unmanaged<MiddlewareLink>, HTTPResponse?) {
        var link = Unmanaged.passUnretained(self)
        while true {
            if let answer = link._withUnsafeGuaranteedRef({ $0.middleware.willRespond(to: request, route: route) }) {
                return (link, answer)
            }
            guard let next = link._withUnsafeGuaranteedRef({ $0.following }) else { return (link, nil) }
            link = next
        }
    }

    /// `didRespond` of this middleware (the last whose `willRespond` ran) and of those before it,
    /// innermost first, skipping those that do not observe responses.
    @inline(__always)
    func didRespond(to request: HTTPRequest, route: MatchedRoute, status: Int, nanoseconds: UInt64) {
        var link = observes ? Unmanaged.passUnretained(self) : earlierObserver
        while let current = link {
            current._withUnsafeGuaranteedRef { $0.middleware.didRespond(to: request, route: route, status: status, nanoseconds: nanoseconds) }
            link = current._withUnsafeGuaranteedRef { $0.earlierObserver }
        }
    }
}
