import Dashboard
import HTTPServer
import Logging
import RedisClient
import TaskAPI
import TaskQueue
import Testing

/// The dashboard's routes without sockets or Redis: the page and assets are open and carry their
/// security headers; `GET /auth/whoami` reports the token's scopes (all of them when tokens are off).
@Suite struct DashboardRouteTests {
    static let tokens = try! BearerTokens(parsing: "reader-token-0000000001 read viewer\nadmin-token-00000000001 read,submit,admin ops\n")

    func router(auth: BearerAuth?) throws -> Router {
        let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1/0"))
        let api = TaskAPI(broker: Broker(redis: redis), results: ResultBackend(redis: redis), logger: Logger(label: "x"),
                          appRoutes: Dashboard.routes(auth: auth))
        return api.router(middleware: auth.map { [$0] } ?? [])
    }

    func get(_ router: Router, _ path: String, _ headers: HTTPHeaders = [:]) async throws -> HTTPResponse {
        try await router.respond(to: HTTPRequest(method: .get, path: path, headers: headers))
    }

    @Test func thePage_isOpen_withAStrictPolicy_andRevalidatesByETag() async throws {
        let router = try router(auth: BearerAuth(tokens: Self.tokens, logger: Logger(label: "x")))
        let page = try await get(router, "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        #expect(page.headers["x-content-type-options"] == "nosniff")
        let policy = try #require(page.headers["content-security-policy"])
        #expect(policy.contains("default-src 'self'") && policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
        #expect(String(decoding: page.body, as: UTF8.self).contains("<script type=\"module\" src=\"/assets/app.js\"></script>"))
        let etag = try #require(page.headers["etag"])
        let again = try await get(router, "/", ["If-None-Match": etag])
        #expect(again.status == 304 && again.body.isEmpty)
    }

    @Test func assets_haveTheirTypes_andAnUnknownNameIs404() async throws {
        let router = try router(auth: BearerAuth(tokens: Self.tokens, logger: Logger(label: "x")))
        #expect(try await get(router, "/assets/app.js").headers["content-type"] == "text/javascript; charset=utf-8")
        #expect(try await get(router, "/assets/app.css").headers["content-type"] == "text/css; charset=utf-8")
        let missing = try await get(router, "/assets/..%2Fsecret")
        #expect(missing.status == 404 && missing.headers["content-type"] == "application/problem+json")
    }

    @Test func whoami_namesTheTokensScopes_andNeedsAToken() async throws {
        let router = try router(auth: BearerAuth(tokens: Self.tokens, logger: Logger(label: "x")))
        #expect(try await get(router, "/auth/whoami").status == 401)
        let reader = try await get(router, "/auth/whoami", ["Authorization": "Bearer reader-token-0000000001"])
        #expect(String(decoding: reader.body, as: UTF8.self) == #"{"name": "viewer", "scopes": ["read"], "auth": true}"#)
        let admin = try await get(router, "/auth/whoami", ["Authorization": "Bearer admin-token-00000000001"])
        #expect(String(decoding: admin.body, as: UTF8.self).contains(#""scopes": ["admin", "read", "submit"]"#))
    }

    @Test func whoami_withTokensOff_isAnonymousWithEveryScope() async throws {
        let open = try await get(try router(auth: nil), "/auth/whoami")
        #expect(String(decoding: open.body, as: UTF8.self) == #"{"name": "anonymous", "scopes": ["admin", "read", "submit"], "auth": false}"#)
    }
}
