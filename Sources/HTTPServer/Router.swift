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
/// Each route declares who may call it (`access`); middleware added with `use` runs around every
/// request, first added outermost (`router.use(metrics); router.use(auth)` counts the 401s too).
public struct Router: Sendable {
    struct Route: Sendable {
        var method: HTTPMethod
        var pattern: String
        var access: RouteAccess
        var handler: HTTPHandler
    }

    var routes: [Route] = []
    var middleware: [any HTTPMiddleware] = []

    public init() {}

    /// Adds a route; problems with it are reported by `validate()` or the server's initializer.
    /// `access` matters only behind an authenticating middleware; by default a valid token is needed.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, access: RouteAccess = .authenticated,
                             _ handler: @escaping HTTPHandler) {
        routes.append(Route(method: method, pattern: pattern, access: access, handler: handler))
    }

    /// Runs `middleware` around every request, inside the middleware added before it.
    public mutating func use(_ middleware: any HTTPMiddleware) {
        self.middleware.append(middleware)
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
