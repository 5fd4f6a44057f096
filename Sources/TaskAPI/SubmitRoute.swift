import HTTPServer

/// The `POST /tasks` handler's one capture: a reference to the API, whose methods it calls in place.
final class SubmitRoute: Sendable {
    let api: TaskAPI

    init(api: TaskAPI) {
        self.api = api
    }

    /// `TaskAPI.submit`, with Redis connectivity failures answered as `guarded` answers them (503).
    nonisolated(nonsending) func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        do { return try await api.submit(request) } catch { return try api.unavailable(error, request) }
    }
}
