import HTTPServer

extension TaskAPI {
    /// Who may call each generic route when tokens are on: reading needs `read`, submitting `submit`,
    /// changing what others submitted (revoke, requeue) `admin`; the probes are open. A route missing
    /// here falls back by method (GET/HEAD read, anything else admin), so a new route is never open
    /// by accident; a test checks every route has an entry.
    static let access: [String: RouteAccess] = [
        "POST /tasks": .submit,
        "GET /tasks": .read,
        "GET /throughput": .read,
        "GET /events": .read,
        "GET /tasks/{id}": .read,
        "POST /tasks/{id}/revoke": .admin,
        "POST /groups": .submit,
        "GET /groups/{id}": .read,
        "POST /groups/{id}/revoke": .admin,
        "POST /chains": .submit,
        "GET /schedules": .read,
        "GET /schedules/{name}": .read,
        "PUT /schedules/{name}": .admin,
        "DELETE /schedules/{name}": .admin,
        "GET /rate-limits/{task}": .read,
        "PUT /rate-limits/{task}": .admin,
        "DELETE /rate-limits/{task}": .admin,
        "GET /dead-letters": .read,
        "POST /dead-letters/{id}/requeue": .admin,
        "GET /workers": .read,
        "GET /queues": .read,
        "GET /metrics": .read,
        "GET /healthz": .open,
        "GET /readyz": .open,
    ]

    /// Who may call the route `method path` when tokens are on: what an app route declares, else the
    /// table above, else `read` for GET and `admin` for anything else.
    public func access(_ method: HTTPMethod, _ path: String) -> RouteAccess {
        appRoutes.first { $0.method == method && $0.path == path }?.access
            ?? Self.access["\(method.rawValue) \(path)"]
            ?? (method == .get || method == .head ? .read : .admin)
    }

    /// `GET /metrics`: the Prometheus text exposition of this process, when the app set one up.
    func metrics(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let exposition = configuration.metricsExposition else {
            throw HTTPError(status: 404, detail: "metrics are not enabled in this process")
        }
        return HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], body: exposition())
    }
}
