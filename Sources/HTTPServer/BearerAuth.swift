import Logging

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
    private final class Current: Sendable {
        let tokens: BearerTokens
        init(_ tokens: BearerTokens) { self.tokens = tokens }
    }

    private let current: Published<Current>
    private let logger: Logger
    /// The realm in `WWW-Authenticate`.
    public let realm: String

    /// Authenticates against `tokens`.
    public init(tokens: BearerTokens, realm: String = "celeriac", logger: Logger) {
        current = Published(Current(tokens))
        self.realm = realm
        self.logger = logger
    }

    /// Replaces the accepted tokens (a re-read tokens file) for every later request. The set replaced
    /// stays in memory (a few hundred bytes a token): lock-free reads cannot tell when it is unused.
    public func reload(_ tokens: BearerTokens) {
        current.publish(Current(tokens))
    }

    /// How many tokens are accepted now.
    public var tokenCount: Int { current.read { $0.tokens.entries.count } }

    /// False: authentication decides before the handler and has nothing to do after it.
    public var observesResponses: Bool { false }

    /// Lets the request through (nil) or answers 401/403.
    public func willRespond(to request: HTTPRequest, route: MatchedRoute) -> HTTPResponse? {
        let access = route.access
        if access.isOpen { return nil }
        // The hot path: one read of the tokens in force (so a reload cannot come between match and
        // scope), the header's bytes as received (no String made), a constant-time scan of the table,
        // a mask for the scope. It handles plain pointers and values only, so it retains nothing.
        let current = self.current.unretained()
        let rows = current._withUnsafeGuaranteedRef { $0.tokens.table.rows }
        let verdict: Verdict
        if let value = request.headers.unsafeReceivedValue(of: .authorization) {
            verdict = Self.verdict(value, rows, access)  // `request`, borrowed for this call, holds the bytes
        } else {
            verdict = Self.verdictOfStrings(request.headers, rows, access)
        }
        if case .allowed = verdict { return nil }
        return refuse(request, verdict, access, current)
    }

    /// `verdict` for headers kept as strings (made by hand, not received): off the per-request path.
    @inline(never)
    private static func verdictOfStrings(_ headers: HTTPHeaders, _ rows: TokenTable.Rows, _ access: RouteAccess) -> Verdict {
        headers.withFirstValue(of: .authorization) { value in verdict(value, rows, access) }
    }

    /// The 401 or 403 for a `verdict` other than `.allowed`, logged (off the per-request path, so the
    /// path that lets a request through stays small).
    @inline(never)
    private func refuse(_ request: HTTPRequest, _ verdict: Verdict, _ access: RouteAccess, _ current: Unmanaged<Current>) -> HTTPResponse {
        switch verdict {
        case .noHeader, .noToken, .allowed:  // (`.allowed` never comes here)
            return refuseWithoutToken(request)
        case .unknownToken:
            logger.notice("401: unknown bearer token", metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
            return challenge(status: 401, detail: "the bearer token is not valid", error: "invalid_token")
        case .lacksScope(let index):
            let name = current._withUnsafeGuaranteedRef { $0.tokens.entries[index].name }
            let scope = access.scope ?? ""
            logger.notice("403: token '\(name)' lacks scope '\(scope)'",
                          metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
            var response = challenge(status: 403, detail: "the token '\(name)' lacks the scope '\(scope)' this route needs",
                                     error: "insufficient_scope")
            response.headers["WWW-Authenticate"]! += ", scope=\"\(scope)\""
            return response
        }
    }

    /// What the token table says of an `Authorization` value (nil: no such field) for a route of `access`.
    @inline(__always)
    private static func verdict(_ value: UnsafeBufferPointer<UInt8>?, _ rows: TokenTable.Rows, _ access: RouteAccess) -> Verdict {
        guard let value else { return .noHeader }
        guard let token = bearerToken(value) else { return .noToken }
        let index = rows.match(token)
        if index < 0 { return .unknownToken }
        if access.needsScope, rows.scopes(index) & access.scopeBit == 0 { return .lacksScope(index: index) }
        return .allowed
    }

    private enum Verdict {
        case allowed, noHeader, noToken, unknownToken
        case lacksScope(index: Int)
    }

    private func refuseWithoutToken(_ request: HTTPRequest) -> HTTPResponse {
        logger.notice("401: no bearer token", metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
        return challenge(status: 401, detail: "this route needs Authorization: Bearer <token>", error: nil)
    }

    /// The entry of the request's bearer token, if it is one of the accepted tokens (a route that
    /// reports who is calling, such as the dashboard's `GET /auth/whoami`).
    public func holder(of request: HTTPRequest) -> BearerTokens.Entry? {
        request.headers.withFirstValue(of: .authorization) { value in
            guard let value, let token = Self.bearerToken(value) else { return nil }
            return current.read { $0.tokens.match(token) }
        }
    }

    private func challenge(status: Int, detail: String, error: String?) -> HTTPResponse {
        var response = HTTPError(status: status, detail: detail).response
        response.headers["WWW-Authenticate"] = "Bearer realm=\"\(realm)\"" + (error.map { ", error=\"\($0)\"" } ?? "")
        return response
    }

    /// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive), as bytes.
    @inline(__always) static func bearerToken(_ value: UnsafeBufferPointer<UInt8>) -> UnsafeRawBufferPointer? {
        // "bearer " with the letters in any case (a byte | 0x20 is its lowercase), then a space: one
        // word when there are eight bytes to load (there are, before any token of accepted length).
        if value.count >= 8, let base = value.baseAddress {
            let word = UnsafeRawPointer(base).loadUnaligned(as: UInt64.self).littleEndian
            // "bearer " little-endian in the low seven bytes; the eighth byte is not looked at.
            guard (word | 0x2020_2020_2020) & 0xFF_FFFF_FFFF_FFFF == 0x20_7265_7261_6562 else { return nil }
        } else {
            guard value.count >= 7, value[0] | 0x20 == UInt8(ascii: "b"), value[1] | 0x20 == UInt8(ascii: "e"),
                  value[2] | 0x20 == UInt8(ascii: "a"), value[3] | 0x20 == UInt8(ascii: "r"),
                  value[4] | 0x20 == UInt8(ascii: "e"), value[5] | 0x20 == UInt8(ascii: "r"), value[6] == UInt8(ascii: " ")
            else { return nil }
        }
        var start = 7
        var end = value.count
        while start < end, value[start] == UInt8(ascii: " ") { start += 1 }
        while end > start, value[end - 1] == UInt8(ascii: " ") { end -= 1 }
        return start == end ? nil : UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(value)[start..<end])
    }
}
