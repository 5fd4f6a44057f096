/// One middleware of a router's chain and the rest of the chain after it. Everything is a `let`
/// reached from a borrowed link, so calling through the chain copies no reference (an array's
/// elements are retained around each call).
final class MiddlewareLink: Sendable {
    let middleware: any HTTPMiddleware
    /// `middleware.observesResponses`, read once.
    let observes: Bool
    let next: MiddlewareLink?
    /// Whether any middleware after this one observes responses (if not, `didRespond` stops here).
    let laterObserve: Bool

    init(_ middleware: any HTTPMiddleware, next: MiddlewareLink?) {
        self.middleware = middleware
        observes = middleware.observesResponses
        self.next = next
        laterObserve = next.map { $0.observes || $0.laterObserve } ?? false
    }

    /// `willRespond` of this middleware and those after it until one answers: how many ran in all
    /// (`ran` before this one), and the answer.
    func willRespond(to request: HTTPRequest, route: MatchedRoute, ran: Int) -> (Int, HTTPResponse?) {
        if let answer = middleware.willRespond(to: request, route: route) { return (ran + 1, answer) }
        // Optional chaining borrows `next`; `if let` would copy (retain) it.
        return next?.willRespond(to: request, route: route, ran: ran + 1) ?? (ran + 1, nil)
    }

    /// `didRespond` of the first `count` middleware from this one, innermost (last) first.
    func didRespond(to request: HTTPRequest, route: MatchedRoute, status: Int, nanoseconds: UInt64, count: Int) {
        if count > 1, laterObserve { next?.didRespond(to: request, route: route, status: status, nanoseconds: nanoseconds, count: count - 1) }
        if observes, count > 0 { middleware.didRespond(to: request, route: route, status: status, nanoseconds: nanoseconds) }
    }
}
