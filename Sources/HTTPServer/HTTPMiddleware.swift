/// What routing found for a request, for middleware that decides or counts by route. Holds no
/// reference (the pattern is interned), so passing it to each middleware costs no reference counting.
public struct MatchedRoute: Sendable, BitwiseCopyable {
    /// The route's pattern (`/tasks/{id}`), or nil when no route matched (a 404 or 405 follows):
    /// a bounded label for metrics, unlike the raw path. (Takes a lock: read it when a label is new.)
    public var pattern: String? { patternName?.text }
    /// Who may call it; `.authenticated` when no route matched.
    public var access: RouteAccess
    /// The route's position in its router (set at start-up), so per-route tables need no hashing;
    /// -1 when no route matched or the index is not known.
    public var index: Int
    /// The pattern as its interned number: per-request comparisons compare this.
    let patternName: InternedName?

    /// A match, for calling a middleware directly (tests).
    public init(pattern: String?, access: RouteAccess, index: Int = -1) {
        patternName = pattern.map(InternedName.init)
        self.access = access
        self.index = index
    }
}

/// Runs around every routed request (HTTP/1.1 and any later protocol that routes through the same
/// router), in two synchronous steps, so that it costs no extra suspension point per request:
/// `willRespond` before the handler may answer by itself (a 401), and `didRespond` sees every
/// response, whoever made it, with the time it took.
///
/// Middleware runs in the order added: each `willRespond` until one answers, then `didRespond` of
/// those whose `willRespond` ran, in reverse order (so an outer metrics middleware counts the 401s
/// of an inner authenticating one).
///
/// A middleware is a class: one instance serves every event loop, and the router calls it through
/// a plain reference (no existential box copied per request).
public protocol HTTPMiddleware: AnyObject, Sendable {
    /// Before the handler: nil lets the request through, a response answers it instead.
    func willRespond(to request: HTTPRequest, route: MatchedRoute) -> HTTPResponse?
    /// After the response is known; `nanoseconds` since the first middleware's `willRespond`.
    func didRespond(to request: HTTPRequest, route: MatchedRoute, status: Int, nanoseconds: UInt64)
    /// False when `didRespond` does nothing, so the router skips the call (read once, at start-up).
    var observesResponses: Bool { get }
}

extension HTTPMiddleware {
    /// Lets every request through.
    public func willRespond(to request: HTTPRequest, route: MatchedRoute) -> HTTPResponse? { nil }
    /// Looks at nothing.
    public func didRespond(to request: HTTPRequest, route: MatchedRoute, status: Int, nanoseconds: UInt64) {}
    /// True: the router calls `didRespond`.
    public var observesResponses: Bool { true }
}
