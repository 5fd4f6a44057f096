/// What routing found for a request, for middleware that decides or counts by route.
public struct MatchedRoute: Sendable {
    /// The route's pattern (`/tasks/{id}`), or nil when no route matched (a 404 or 405 follows):
    /// a bounded label for metrics, unlike the raw path.
    public var pattern: String?
    /// Who may call it; `.authenticated` when no route matched.
    public var access: RouteAccess

    /// A match, for calling a middleware directly (tests).
    public init(pattern: String?, access: RouteAccess) {
        self.pattern = pattern
        self.access = access
    }
}

/// Runs around every routed request (HTTP/1.1 and any later protocol that routes through the same
/// router): may answer by itself (a 401) or call `next` and look at or change the response.
///
/// `next` never throws an `HTTPError` of a handler: those are already responses, so a middleware sees
/// every status. A middleware that throws `HTTPError` gets its problem+json response sent.
public protocol HTTPMiddleware: Sendable {
    /// Answers `request`, usually by calling `next`.
    func respond(to request: HTTPRequest, route: MatchedRoute,
                 next: (HTTPRequest) async -> HTTPResponse) async throws -> HTTPResponse
}
