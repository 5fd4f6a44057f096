import Foundation
import HTTPServer
import Logging
import Synchronization
import TaskProtocol
import TaskQueue

/// The HTTP face of Celeriac: submit (`POST /tasks`), poll (`GET /tasks/{id}`), revoke, health, workers,
/// queues and dead letters, plus the routes an app adds (`AppRoute`; the shipped binary's `/register`
/// example). Stateless: any number of API nodes share one Redis.
///
/// ```swift
/// let api = TaskAPI(broker: broker, results: results, configuration: .init(), logger: logger)
/// let server = try HTTPServer(configuration: httpConfig, router: api.router(), logger: logger)
/// ```
public struct TaskAPI: Sendable {
    /// What the API accepts, with documented defaults.
    public struct Configuration: Sendable {
        /// Accept task names no live worker has registered (default false: 422).
        public var allowUnknownTasks = false
        /// Seconds a cached list of registered task names is trusted. Default 1.
        public var registryCacheSeconds = 1.0
        /// Seconds a client should wait before retrying when Redis is unavailable (`Retry-After`). Default 1.
        public var retryAfterSeconds = 1
        /// Base URL of this API as clients reach it (app routes put it in links). Default `http://localhost:8080`.
        public var publicURL = "http://localhost:8080"
        /// Longest `GET /tasks/{id}?wait=` in seconds. Default 60.
        public var maxWaitSeconds = 60.0
        /// What `GET /metrics` serves (the Prometheus text format); nil answers 404. Default nil.
        public var metricsExposition: (@Sendable () -> [UInt8])?
        /// Most members in one `POST /groups` (the body is also bound by the server's body limit, 1 MiB by default). Default 10,000.
        public var maxGroupSize = 10_000
        /// Most tasks in one `POST /chains`. Default 1,000.
        public var maxChainLength = 1_000
        /// Task name → its `TaskOptions.uniqueFor` (the app's registry): the window a submission without
        /// `unique_for` gets. Default empty.
        public var uniqueFor: [String: Double] = [:]
        /// `GET /events`: the event ring, per-client buffer and keep-alive interval.
        public var events = EventHub.Configuration()
        /// The documented defaults.
        public init() {}
    }

    /// Where tasks go and records are read.
    public let broker: Broker
    /// Where results are read.
    public let results: ResultBackend
    /// What the API accepts.
    public let configuration: Configuration
    /// The app's own routes, served next to the generic ones.
    public let appRoutes: [AppRoute]
    let logger: Logger
    let knownTasks: KnownTasks
    let resultWaiter: ResultWaiter
    let metrics = APIMetrics()
    /// The Celery event feed `GET /events` streams.
    let eventHub: EventHub
    /// The `origin` header of the messages this API sends (the host name is looked up once).
    public let origin = "celeriac-api@" + ProcessInfo.processInfo.hostName

    /// The API on `broker`, with the app's own `appRoutes` (validated with the rest when routed).
    public init(broker: Broker, results: ResultBackend, configuration: Configuration = Configuration(), logger: Logger,
                appRoutes: [AppRoute] = []) {
        self.broker = broker
        self.appRoutes = appRoutes
        self.results = results
        self.configuration = configuration
        self.logger = logger
        self.knownTasks = KnownTasks(broker: broker, ttl: configuration.registryCacheSeconds)
        self.resultWaiter = ResultWaiter(broker: broker)
        self.eventHub = EventHub(broker: broker, configuration: configuration.events, logger: logger)
    }

    /// Ends every long poll now with the task's current state, and every later one at once: for a
    /// shutdown, so in-flight requests finish within the grace period.
    public func shutdown() async {
        await resultWaiter.close()
        eventHub.close()
    }

    /// Every route of the API (`openapi.yaml` lists the same set; a test checks it), each with its
    /// access (`TaskAPI+Access`), behind `middleware` (request metrics, then bearer tokens, say).
    public func router(middleware: [any HTTPMiddleware] = []) -> Router {
        var router = Router()
        for route in routes {
            // `POST /tasks`' handler handed over as it is made: out of `routes`' array (where a closure is
            // stored at the array's abstraction) each call would go through two reabstraction thunks, two
            // more async frames per request.
            let handler = route.method == .post && route.path == "/tasks" ? submitHandler : route.handler
            router.add(route.method, route.path, access: access(route.method, route.path), handler)
        }
        for item in middleware { router.use(item) }
        return router
    }

    /// Method, path and handler of each route.
    public var routes: [(method: HTTPMethod, path: String, handler: HTTPHandler)] {
        let generic: [(method: HTTPMethod, path: String, handler: HTTPHandler)] = [
            (.post, "/tasks", submitHandler),
            (.get, "/tasks", { try await self.guarded { try await self.listTasks($0) }($0) }),
            (.get, "/throughput", { try await self.guarded { try await self.throughput($0) }($0) }),
            (.get, "/events", { try await self.guarded { try await self.events($0) }($0) }),
            (.get, "/tasks/{id}", { try await self.guarded { try await self.status($0) }($0) }),
            (.post, "/tasks/{id}/revoke", { try await self.guarded { try await self.revoke($0) }($0) }),
            (.post, "/groups", { try await self.guarded { try await self.submitGroup($0) }($0) }),
            (.get, "/groups/{id}", { try await self.guarded { try await self.groupStatus($0) }($0) }),
            (.post, "/groups/{id}/revoke", { try await self.guarded { try await self.revokeGroup($0) }($0) }),
            (.post, "/chains", { try await self.guarded { try await self.submitChain($0) }($0) }),
            (.get, "/dead-letters", { try await self.guarded { try await self.deadLetters($0) }($0) }),
            (.post, "/dead-letters/{id}/requeue", { try await self.guarded { try await self.requeue($0) }($0) }),
            (.get, "/workers", { try await self.guarded { try await self.workers($0) }($0) }),
            (.get, "/queues", { try await self.guarded { try await self.queues($0) }($0) }),
            (.get, "/metrics", { try await self.metrics($0) }),
            (.get, "/schedules", { try await self.guarded { try await self.listSchedules($0) }($0) }),
            (.get, "/schedules/{name}", { try await self.guarded { try await self.getSchedule($0) }($0) }),
            (.put, "/schedules/{name}", { try await self.guarded { try await self.putSchedule($0) }($0) }),
            (.delete, "/schedules/{name}", { try await self.guarded { try await self.deleteSchedule($0) }($0) }),
            (.put, "/rate-limits/{task}", { try await self.guarded { try await self.putRateLimit($0) }($0) }),
            (.get, "/rate-limits/{task}", { try await self.guarded { try await self.getRateLimit($0) }($0) }),
            (.delete, "/rate-limits/{task}", { try await self.guarded { try await self.deleteRateLimit($0) }($0) }),
            (.get, "/healthz", { _ in .json(bytes: Array(#"{"status": "ok"}"#.utf8)) }),
            (.get, "/readyz", { try await self.guarded { try await self.ready($0) }($0) }),
        ]
        return generic + appRoutes.map { route in
            let handler: HTTPHandler = { try await self.guarded { try await route.handler(self, $0) }($0) }
            return (route.method, route.path, handler)
        }
    }

    /// `POST /tasks`, the hot path: without `guarded`'s two closures (made per request) and their async
    /// frames, and calling through a class, so that the closure's own frame holds a reference rather than
    /// a copy of the whole `TaskAPI`.
    var submitHandler: HTTPHandler {
        let route = SubmitRoute(api: self)
        return { request in try await route.respond(to: request) }
    }

    /// Turns Redis connectivity failures into `503` + `Retry-After` (never a hang, never a false 2xx).
    func guarded(_ handler: @escaping HTTPHandler) -> HTTPHandler {
        { request in
            do {
                return try await handler(request)
            } catch {
                return try unavailable(error, request)
            }
        }
    }

    /// A handler's error: Redis unreachable is a 503 with `Retry-After`; anything else is thrown on.
    func unavailable(_ error: any Error, _ request: HTTPRequest) throws -> HTTPResponse {
        guard TaskQueueError.isConnectivity(error) else { throw error }
        logger.warning("redis unavailable: \(error)", metadata: ["request.id": .string(request.id)])
        var response = HTTPResponse.problem(status: 503, title: "Service Unavailable",
                                            detail: "the task store (Redis) is unavailable; nothing was accepted")
        response.headers.add(name: "Retry-After", value: String(configuration.retryAfterSeconds))
        return response
    }

    func ready(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await broker.ping()
        return .json(bytes: Array(#"{"status": "ready", "redis": "ok"}"#.utf8))
    }

    /// `POST /tasks/{id}/revoke`: a queued or scheduled task never runs, a running one is cancelled.
    /// A revoke, not a DELETE: the task stays readable as REVOKED, as Celery users expect. Revoking a
    /// REVOKED task again answers the same 202 (idempotent); any other finished state is a 409.
    func revoke(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = try Self.taskID(request)
        switch try await broker.revoke(id) {
        case .revoked, .alreadyFinished(.revoked):
            return .json(status: 202, bytes: JSONValue.object(["id": .string(id), "state": "REVOKED"]).serializedBytes())
        case .alreadyFinished(let state):
            throw HTTPError(status: 409, title: "Conflict", detail: "task '\(id)' already finished with \(state.rawValue)", field: "id")
        case .unknown:
            throw HTTPError(status: 404, title: "Not Found", detail: "no task with id '\(id)' was ever submitted (or its record expired)", field: "id")
        }
    }

    /// `POST /dead-letters/{id}/requeue`: puts the message back on its queue.
    func requeue(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        guard try await broker.requeueDeadLetter(id) else {
            throw HTTPError(status: 404, title: "Not Found", detail: "no dead letter with id '\(id)'", field: "id")
        }
        return .json(status: 202, bytes: JSONValue.object(["id": .string(id), "requeued": true]).serializedBytes())
    }

    func deadLetters(_ request: HTTPRequest) async throws -> HTTPResponse {
        let limit = try request.query["limit"].map { text -> Int in
            guard let n = Int(text), (1...1000).contains(n) else {
                throw HTTPError(status: 400, detail: "limit must be an integer in 1...1000", field: "limit")
            }
            return n
        } ?? 100
        let entries = try await broker.deadLetters(limit: limit)
        return .json(bytes: JSONValue.object(["items": .array(entries), "count": .int(Int64(entries.count))]).serializedBytes())
    }
}

/// Task names registered by live workers (from their heartbeats), cached briefly.
final class KnownTasks: Sendable {
    private let broker: Broker
    private let ttl: Double
    private let cache = Mutex<(names: Set<String>, at: Double)>(([], 0))

    init(broker: Broker, ttl: Double) {
        self.broker = broker
        self.ttl = ttl
    }

    func contains(_ name: String) async throws -> Bool {
        let now = Date().timeIntervalSince1970
        let cached = cache.withLock { $0 }
        if now - cached.at < ttl, cached.names.contains(name) { return true }
        let names = try await broker.registeredTaskNames()
        cache.withLock { $0 = (names, now) }
        return names.contains(name)
    }
}
