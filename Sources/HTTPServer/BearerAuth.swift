import Logging
import Synchronization

/// Bearer-token authentication as middleware: a request to a route that is not `.open` needs
/// `Authorization: Bearer <token>` with a token of the tokens file (401 otherwise, with
/// `WWW-Authenticate: Bearer`), compared in constant time (`BearerTokens.match`), and the route's scope among the token's (403 otherwise). Both answers
/// are problem+json. Logs name the token's holder, never the token. `reload` swaps the tokens in place
/// (the app calls it on SIGHUP); requests in flight finish with the set they started with.
///
/// ```swift
/// let auth = BearerAuth(tokens: try BearerTokens(parsing: text), logger: logger)
/// router.use(auth)
/// ```
public final class BearerAuth: HTTPMiddleware {
    private let tokens: Mutex<BearerTokens>
    private let logger: Logger
    /// The realm in `WWW-Authenticate`.
    public let realm: String

    /// Authenticates against `tokens`.
    public init(tokens: BearerTokens, realm: String = "celeriac", logger: Logger) {
        self.tokens = Mutex(tokens)
        self.realm = realm
        self.logger = logger
    }

    /// Replaces the accepted tokens (a re-read tokens file) for every later request.
    public func reload(_ tokens: BearerTokens) {
        self.tokens.withLock { $0 = tokens }
    }

    /// How many tokens are accepted now.
    public var tokenCount: Int { tokens.withLock { $0.entries.count } }

    /// Lets the request through (nil) or answers 401/403.
    public func willRespond(to request: HTTPRequest, route: MatchedRoute) -> HTTPResponse? {
        if route.access.isOpen { return nil }
        guard let token = Self.bearerToken(request.headers["authorization"]) else {
            logger.notice("401: no bearer token", metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
            return challenge(status: 401, detail: "this route needs Authorization: Bearer <token>", error: nil)
        }
        guard let entry = tokens.withLock({ $0.match(token) }) else {
            logger.notice("401: unknown bearer token", metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
            return challenge(status: 401, detail: "the bearer token is not valid", error: "invalid_token")
        }
        if let scope = route.access.scope, !entry.scopes.contains(scope) {
            logger.notice("403: token '\(entry.name)' lacks scope '\(scope)'",
                          metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
            var response = challenge(status: 403, detail: "the token '\(entry.name)' lacks the scope '\(scope)' this route needs",
                                     error: "insufficient_scope")
            response.headers["WWW-Authenticate"]! += ", scope=\"\(scope)\""
            return response
        }
        return nil
    }

    /// The entry of the request's bearer token, if it is one of the accepted tokens (a route that
    /// reports who is calling, such as the dashboard's `GET /auth/whoami`).
    public func holder(of request: HTTPRequest) -> BearerTokens.Entry? {
        guard let token = Self.bearerToken(request.headers["authorization"]) else { return nil }
        return tokens.withLock { $0.match(token) }
    }

    private func challenge(status: Int, detail: String, error: String?) -> HTTPResponse {
        var response = HTTPError(status: status, detail: detail).response
        response.headers["WWW-Authenticate"] = "Bearer realm=\"\(realm)\"" + (error.map { ", error=\"\($0)\"" } ?? "")
        return response
    }

    /// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive), as bytes.
    static func bearerToken(_ value: String?) -> Substring.UTF8View? {
        guard let value else { return nil }
        var rest = Substring(value).utf8
        for expected in "bearer ".utf8 {
            guard let byte = rest.first, byte | (expected == 0x20 ? 0 : 0x20) == expected else { return nil }
            rest = rest.dropFirst()
        }
        while rest.first == UInt8(ascii: " ") { rest = rest.dropFirst() }
        while rest.last == UInt8(ascii: " ") { rest = rest.dropLast() }
        return rest.isEmpty ? nil : rest
    }
}
