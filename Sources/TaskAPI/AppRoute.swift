import HTTPServer

/// A route an app serves next to the generic task API (through `App.route`), such as the shipped
/// binary's `/register` example. Its handler gets the API (broker, configuration, origin) and runs
/// behind the same guard: a Redis outage is a 503 with `Retry-After`, never a false 2xx.
public struct AppRoute: Sendable {
    /// The HTTP method it answers.
    public var method: HTTPMethod
    /// The path pattern (`/users/{id}`), validated at start-up with every other route.
    public var path: String
    /// Who may call it when tokens are on; nil: `read` for GET, `admin` for anything else.
    public var access: RouteAccess?
    /// Answers one request.
    public var handler: @Sendable (TaskAPI, HTTPRequest) async throws -> HTTPResponse

    /// A route for `method` and `path`.
    public init(_ method: HTTPMethod, _ path: String, access: RouteAccess? = nil,
                handler: @escaping @Sendable (TaskAPI, HTTPRequest) async throws -> HTTPResponse) {
        self.method = method
        self.path = path
        self.access = access
        self.handler = handler
    }
}
