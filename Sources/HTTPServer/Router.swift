/// An async request handler; it may suspend (on Redis, say) without blocking the event loop.
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

/// Routes by method and path pattern; `{name}` segments capture path parameters.
///
/// ```swift
/// var router = Router()
/// router.add(.post, "/tasks") { request in … }
/// router.add(.get, "/tasks/{id}") { request in .text(request.pathParameters["id"]!) }
/// ```
/// Patterns are checked when the server is created (`HTTPServer.init`), or with `validate()`:
/// a malformed pattern or a duplicate method and pattern throws there, not on the first request.
/// A literal segment wins over a parameter; `HEAD` falls back to the `GET` handler.
public struct Router: Sendable {
    struct Route: Sendable {
        var method: HTTPMethod
        var pattern: String
        var handler: HTTPHandler
    }

    var routes: [Route] = []

    public init() {}

    /// Adds a route; problems with it are reported by `validate()` or the server's initializer.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping HTTPHandler) {
        routes.append(Route(method: method, pattern: pattern, handler: handler))
    }

    /// Throws the first malformed pattern or duplicate route.
    public func validate() throws(HTTPServerError) {
        _ = try CompiledRouter(self)
    }

    /// Routes `request` and runs its handler, turning errors into responses exactly as the server does
    /// (for testing handlers without sockets).
    public func respond(to request: HTTPRequest) async throws(HTTPServerError) -> HTTPResponse {
        await (try CompiledRouter(self)).respond(to: request, logger: nil)
    }
}

/// The start-up error of this module: an invalid route or configuration, or a failure to bind.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
