import HTTPServer
import Testing

private struct Boom: Error {}

@Suite struct RouterTests {
    private func router() -> Router {
        var router = Router()
        router.add(.get, "/tasks/{id}") { .text("task \($0.pathParameters["id"]!)") }
        router.add(.delete, "/tasks/{taskID}") { .text("deleted \($0.pathParameters["taskID"]!)") }
        router.add(.get, "/tasks/stats") { _ in .text("stats") }
        router.add(.post, "/tasks") { _ in HTTPResponse(status: 202) }
        router.add(.get, "/a/{x}/c") { .text("x=\($0.pathParameters["x"]!)") }
        router.add(.get, "/a/b/{y}") { .text("y=\($0.pathParameters["y"]!)") }
        router.add(.get, "/fail") { _ in throw HTTPError(status: 422, title: "Invalid task", detail: "args must be a list", field: "args") }
        router.add(.get, "/boom") { _ in throw Boom() }
        router.add(.get, "/") { _ in .text("root") }
        return router
    }

    private func call(_ method: HTTPMethod, _ path: String) async throws -> HTTPResponse {
        try await router().respond(to: HTTPRequest(method: method, path: path))
    }

    @Test func router_capturesPathParameters_andDecodesThem() async throws {
        #expect(try await call(.get, "/tasks/abc-1").body == Array("task abc-1".utf8))
        #expect(try await call(.get, "/tasks/a%20b").body == Array("task a b".utf8))
        #expect(try await call(.delete, "/tasks/9").body == Array("deleted 9".utf8))
        #expect(try await call(.get, "/").body == Array("root".utf8))
    }

    @Test func router_prefersLiteralSegments_andBacktracks() async throws {
        #expect(try await call(.get, "/tasks/stats").body == Array("stats".utf8))
        #expect(try await call(.get, "/a/b/c").body == Array("y=c".utf8))
        #expect(try await call(.get, "/a/b/d").body == Array("y=d".utf8))
        #expect(try await call(.get, "/a/z/c").body == Array("x=z".utf8))
    }

    @Test func router_answers405WithAllow_and404AsProblemJSON() async throws {
        let notAllowed = try await call(.put, "/tasks/1")
        #expect(notAllowed.status == 405)
        #expect(notAllowed.headers["allow"] == "DELETE, GET, HEAD")
        #expect(notAllowed.headers["content-type"] == "application/problem+json")
        let notFound = try await call(.get, "/nope")
        #expect(notFound.status == 404)
        #expect(String(decoding: notFound.body, as: UTF8.self)
            == #"{"type":"about:blank","title":"Not Found","status":404,"detail":"no route for /nope"}"#)
        #expect(try await call(.get, "/tasks/").status == 404)
        #expect(try await call(.get, "/tasks/1/x").status == 404)
    }

    @Test func router_fallsBackToGet_forHead() async throws {
        #expect(try await call(.head, "/tasks/1").status == 200)
    }

    @Test func router_rendersHTTPError_asProblemJSON_andOtherErrorsAsBare500() async throws {
        let failed = try await call(.get, "/fail")
        #expect(failed.status == 422)
        #expect(String(decoding: failed.body, as: UTF8.self)
            == #"{"type":"about:blank","title":"Invalid task","status":422,"detail":"args must be a list","field":"args"}"#)
        let boom = try await call(.get, "/boom")
        #expect(boom.status == 500)
        #expect(boom.body.isEmpty)
    }

    @Test(arguments: ["tasks", "/tasks//x", "/tasks/{}", "/tasks/{1x}", "/tasks/x{id}", "/t/{a}/{a}", "/a b", "/a?b", "/tasks/{id"])
    func router_rejectsBadPatterns_atValidation(_ pattern: String) {
        var router = Router()
        router.add(.get, pattern) { _ in HTTPResponse() }
        #expect(throws: HTTPServerError.self) { try router.validate() }
    }

    @Test func router_rejectsDuplicateRoutes_evenWithOtherParameterNames() throws {
        var router = Router()
        router.add(.get, "/tasks/{id}") { _ in HTTPResponse() }
        router.add(.get, "/tasks/{name}") { _ in HTTPResponse() }
        #expect(throws: HTTPServerError.self) { try router.validate() }
        #expect(throws: HTTPServerError.self) {
            _ = try HTTPServer(configuration: .init(port: 0), router: router)
        }
        var fine = Router()
        fine.add(.get, "/tasks/{id}") { _ in HTTPResponse() }
        fine.add(.post, "/tasks/{id}") { _ in HTTPResponse() }
        try fine.validate()
    }

    @Test func problem_escapesJSONStrings() {
        let response = HTTPResponse.problem(status: 400, title: "Bad \"quote\"", detail: "line\nbreak\u{1}", field: nil)
        #expect(String(decoding: response.body, as: UTF8.self)
            == #"{"type":"about:blank","title":"Bad \"quote\"","status":400,"detail":"line\nbreak\u0001"}"#)
    }

    @Test func headers_lookUpCaseInsensitively() {
        var headers: HTTPHeaders = [("Content-Type", "a"), ("X-Multi", "1"), ("x-multi", "2")]
        #expect(headers["content-type"] == "a")
        #expect(headers["CONTENT-TYPE"] == "a")
        #expect(headers.values(for: "X-MULTI") == ["1", "2"])
        headers["x-multi"] = "3"
        #expect(headers.values(for: "x-multi") == ["3"])
        #expect(headers["content-typ"] == nil)
        #expect(headers["content-typf"] == nil)
    }
}

/// Counts the calls it gets; `observes` is its `observesResponses`.
private final class CountingMiddleware: HTTPMiddleware, @unchecked Sendable {
    let observes: Bool
    var before = 0, after = 0
    init(observes: Bool) { self.observes = observes }
    var observesResponses: Bool { observes }
    func willRespond(to request: HTTPRequest, route: MatchedRoute) -> HTTPResponse? { before += 1; return nil }
    func didRespond(to request: HTTPRequest, route: MatchedRoute, status: Int, nanoseconds: UInt64) { after += 1 }
}

@Suite struct MiddlewareDispatchTests {
    @Test func router_skipsDidRespond_ofMiddlewareThatObservesNoResponses() async throws {
        let observing = CountingMiddleware(observes: true), deciding = CountingMiddleware(observes: false)
        var router = Router()
        router.add(.get, "/") { _ in .text("root") }
        router.use(observing)
        router.use(deciding)
        for path in ["/", "/missing"] { _ = try await router.respond(to: HTTPRequest(method: .get, path: path)) }
        #expect((observing.before, observing.after) == (2, 2))
        #expect((deciding.before, deciding.after) == (2, 0))
    }
}
