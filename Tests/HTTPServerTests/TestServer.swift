import HTTPServer
import Logging
import Synchronization
import TestSupport

/// A logger that keeps test output quiet (warnings and worse only).
let quietLogger: Logger = {
    var logger = Logger(label: "test.http")
    logger.logLevel = .warning
    return logger
}()

/// Runs `body` against a started server on port 0 (one loop unless configured), always shutting down.
func withServer(_ router: Router, configure: (inout HTTPServer.Configuration) -> Void = { _ in },
                _ body: (HTTPServer) async throws -> Void) async throws
{
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0, threads: 1)
    configure(&configuration)
    let server = try HTTPServer(configuration: configuration, router: router, logger: quietLogger)
    try server.start()
    do {
        try await body(server)
    } catch {
        await server.shutdown(grace: 1)
        throw error
    }
    await server.shutdown(grace: 1)
}

/// A gate a handler waits on until the test opens it; counts arrivals so tests can wait for them.
final class Gate: Sendable {
    private struct State {
        var open = false
        var arrived = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var arrived: Int { state.withLock { $0.arrived } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let pass = state.withLock { state -> Bool in
                state.arrived += 1
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if pass { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

extension Router {
    /// A router with `GET /hello`, `POST /echo` (echoes the body), `GET /gate` (waits on `gate`).
    static func testing(gate: Gate = Gate()) -> Router {
        var router = Router()
        router.add(.get, "/hello") { _ in .text("hello") }
        router.add(.post, "/echo") { request in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: request.body)
        }
        router.add(.get, "/gate") { request in
            await gate.wait()
            return .text("gated \(request.query["n"] ?? "")")
        }
        return router
    }
}
