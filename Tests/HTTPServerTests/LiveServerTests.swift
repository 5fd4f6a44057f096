import Glibc
import HTTPServer
import Logging
import ServiceLifecycle
import Sockets
import Synchronization
import Testing
import TestSupport

@Suite(.serialized) struct LiveServerTests {
    @Test func server_reportsBoundPort_andServesKeepAliveRequests() async throws {
        try await withServer(.testing()) { server in
            #expect(server.port > 0)
            let client = try TestClient(port: server.port)
            for _ in 0..<3 {
                try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "hello")
                #expect(response.headers["content-length"] == "5")
                #expect(response.headers["date"]?.hasSuffix(" GMT") == true)
                #expect(response.headers["connection"] == nil)
            }
            #expect(server.connectionCount == 1)
        }
    }

    @Test func server_answersPipelinedRequestsInOrder_whileTheFirstWaits() async throws {
        let gate = Gate()
        try await withServer(.testing(gate: gate)) { server in
            let client = try TestClient(port: server.port)
            try client.send("GET /gate?n=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nping")
            #expect(await waitUntil { gate.arrived == 1 })
            #expect(try await client.staysQuiet(for: 0.1), "nothing may overtake the first response")
            gate.open()
            #expect(try await client.readResponse().text == "gated 1")
            #expect(try await client.readResponse().text == "hello")
            #expect(try await client.readResponse().text == "ping")
        }
    }

    @Test func server_keepsServingOtherConnections_whileAHandlerIsSuspended() async throws {
        let gate = Gate()
        try await withServer(.testing(gate: gate), configure: { $0.threads = 1 }) { server in
            let waiting = try TestClient(port: server.port)
            try waiting.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await waitUntil { gate.arrived == 1 })
            for _ in 0..<5 {
                let other = try TestClient(port: server.port)
                try other.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try await other.readResponse().status == 200)
            }
            gate.open()
            #expect(try await waiting.readResponse().status == 200)
        }
    }

    @Test func server_sends100Continue_thenReadsTheBody() async throws {
        try await withServer(.testing()) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            #expect(try await client.readResponse().status == 100)
            try client.send("hello")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello")
        }
    }

    @Test func server_refusesTooLargeBody_with413_withoutSending100() async throws {
        try await withServer(.testing(), configure: { $0.limits.maxBodyBytes = 10 }) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.headers["content-type"] == "application/problem+json")
            #expect(response.headers["connection"] == "close")
            #expect(try await client.waitForClose())
        }
    }

    @Test func server_decodesChunkedRequestBodies() async throws {
        try await withServer(.testing()) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            try client.send("2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n")
            #expect(try await client.readResponse().text == "abcde")
        }
    }

    @Test func server_closesAfterConnectionClose_andAfterHTTP10() async throws {
        try await withServer(.testing()) { server in
            let closing = try TestClient(port: server.port)
            try closing.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let response = try await closing.readResponse()
            #expect(response.headers["connection"] == "close")
            #expect(try await closing.waitForClose())

            let old = try TestClient(port: server.port)
            try old.send("GET /hello HTTP/1.0\r\n\r\n")
            #expect(try await old.readResponse().text == "hello")
            #expect(try await old.waitForClose())

            let oldKeepAlive = try TestClient(port: server.port)
            try oldKeepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await oldKeepAlive.readResponse().headers["connection"] == "keep-alive")
            try oldKeepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await oldKeepAlive.readResponse().status == 200)
        }
    }

    @Test func server_answersHead_withLengthAndNoBody() async throws {
        try await withServer(.testing()) { server in
            let client = try TestClient(port: server.port)
            try client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try await client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == "5")
            try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().text == "hello", "no stray body bytes before this response")
        }
    }

    @Test func server_streamsChunkedResponses() async throws {
        var router = Router()
        router.add(.get, "/stream") { _ in
            .streaming(headers: ["Content-Type": "text/plain"]) { writer in
                for i in 0..<3 { try await writer.write("part\(i);") }
                try await writer.write(Array(repeating: UInt8(ascii: "x"), count: 300_000))
            }
        }
        try await withServer(router) { server in
            let client = try TestClient(port: server.port)
            try client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.headers["transfer-encoding"] == "chunked")
            #expect(response.body.count == 18 + 300_000)
            #expect(response.text.hasPrefix("part0;part1;part2;x"))
            try client.send("GET /stream HTTP/1.0\r\n\r\n")
            let old = try await client.readResponse()
            #expect(old.headers["transfer-encoding"] == nil)
            #expect(old.body.count == 18 + 300_000, "HTTP/1.0: body delimited by close")
        }
    }

    @Test func server_answersBadRequest_withProblemJSON_andCloses() async throws {
        try await withServer(.testing()) { server in
            let client = try TestClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.headers["content-type"] == "application/problem+json")
            #expect(response.text.contains(#""detail":"both Content-Length and Transfer-Encoding""#))
            #expect(try await client.waitForClose())
        }
    }

    @Test func server_enforcesHeaderLimits_with431() async throws {
        try await withServer(.testing(), configure: { $0.limits.maxHeaderBytes = 256; $0.limits.maxHeaderCount = 4 }) { server in
            let big = try TestClient(port: server.port)
            try big.send("GET /hello HTTP/1.1\r\nHost: t\r\nX: \(String(repeating: "a", count: 300))\r\n\r\n")
            #expect(try await big.readResponse().status == 431)
            #expect(try await big.waitForClose())
            let many = try TestClient(port: server.port)
            try many.send("GET /hello HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n\r\n")
            #expect(try await many.readResponse().status == 431)
        }
    }

    @Test func server_refusesConnectionsOverTheLimit_with503() async throws {
        try await withServer(.testing(), configure: { $0.limits.maxConnections = 2 }) { server in
            let first = try TestClient(port: server.port)
            let second = try TestClient(port: server.port)
            try first.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            try second.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await first.readResponse().status == 200)
            #expect(try await second.readResponse().status == 200)
            let third = try TestClient(port: server.port)
            try third.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            let refused = try await third.readResponse()
            #expect(refused.status == 503)
            #expect(refused.headers["content-type"] == "application/problem+json")
            #expect(try await third.waitForClose())
            first.socket.shutdown()
            #expect(await waitUntil { server.connectionCount == 1 })
            let fourth = try TestClient(port: server.port)
            try fourth.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await fourth.readResponse().status == 200)
        }
    }

    @Test func server_refusesTooManyPipelinedRequests_with429() async throws {
        let gate = Gate()
        try await withServer(.testing(gate: gate), configure: { $0.limits.maxPipelinedRequests = 2 }) { server in
            let client = try TestClient(port: server.port)
            let one = "GET /gate HTTP/1.1\r\nHost: t\r\n\r\n"
            try client.send(one + one + one + one)
            #expect(await waitUntil { gate.arrived == 1 })
            gate.open()
            #expect(try await client.readResponse().status == 200)
            #expect(try await client.readResponse().status == 200)
            let refused = try await client.readResponse()
            #expect(refused.status == 429)
            #expect(refused.headers["connection"] == "close")
            #expect(try await client.waitForClose())
        }
    }

    @Test func server_timesOutSlowHeaders_with408() async throws {
        try await withServer(.testing(), configure: { $0.timeouts.header = 0.3 }) { server in
            let slow = try TestClient(port: server.port)
            try slow.send("GET /hello HTTP/1.1\r\nHost: t\r\n")
            // Trickling bytes does not extend the header deadline (slowloris).
            for _ in 0..<3 {
                try slow.send("X-Drip: 1\r\n")
                _ = try await slow.staysQuiet(for: 0.05)
            }
            let response = try await slow.readResponse(timeout: 15)
            #expect(response.status == 408)
            #expect(try await slow.waitForClose())
            // A connection that never sends a byte is closed without a response.
            let silent = try TestClient(port: server.port)
            #expect(try await silent.waitForClose(timeout: 15))
        }
    }

    /// Issue 10: a loop that slept past the header timeout took its stale clock as the new connection's
    /// `idleSince` and closed it at once (curl: empty reply). The idle period is the scenario itself.
    @Test func server_answersNewConnections_afterIdlingPastTheHeaderTimeout_onEveryLoop() async throws {
        try await withServer(.testing(), configure: { $0.threads = 2; $0.timeouts.header = 0.3 }) { server in
            let first = try TestClient(port: server.port)
            try first.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(try await first.readResponse().status == 200)
            #expect(await waitUntil { server.connectionCount == 0 })
            try await Task.sleep(nanoseconds: 900_000_000)  // both loops asleep, no timers: three header timeouts
            // Sixteen connections at once spread over both loops (SO_REUSEPORT); each loop's first accept
            // after the long wait is the one that used to be closed.
            let clients = try (0..<16).map { _ in try TestClient(port: server.port) }
            for client in clients { try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n") }
            for client in clients { #expect(try await client.readResponse(timeout: 30).status == 200) }
        }
    }

    @Test func server_timesOutSlowBodies_with408_andIdleConnections() async throws {
        try await withServer(.testing(), configure: { $0.timeouts.body = 0.3; $0.timeouts.idle = 0.3 }) { server in
            let slow = try TestClient(port: server.port)
            try slow.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            #expect(try await slow.readResponse(timeout: 15).status == 408)
            let idle = try TestClient(port: server.port)
            try idle.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await idle.readResponse().status == 200)
            #expect(try await idle.waitForClose(timeout: 15))
        }
    }

    @Test func server_shutsDownGracefully_finishingARequestInFlight() async throws {
        let gate = Gate()
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0, threads: 2)
        configuration.accessLog = false
        let server = try HTTPServer(configuration: configuration, router: .testing(gate: gate), logger: quietLogger)
        try server.start()
        let running = Task { try await server.run() }
        let busy = try TestClient(port: server.port)
        let idle = try TestClient(port: server.port)
        try idle.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try await idle.readResponse().status == 200)
        try busy.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(await waitUntil { gate.arrived == 1 })

        let stopped = Task { await server.shutdown(grace: 10) }
        #expect(try await idle.waitForClose(), "idle connections close at once")
        #expect(await waitUntil { (try? TestClient(port: server.port)) == nil }, "no new connections")
        gate.open()
        let response = try await busy.readResponse()
        #expect(response.status == 200)
        #expect(response.headers["connection"] == "close")
        await stopped.value
        try await running.value
    }

    @Test func server_cancelsHandlers_whenTheGraceRunsOut() async throws {
        var router = Router()
        router.add(.get, "/forever") { _ in
            while !Task.isCancelled { await Task.yield() }
            return .text("cancelled")
        }
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), router: router, logger: quietLogger)
        try server.start()
        let client = try TestClient(port: server.port)
        try client.send("GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try await client.staysQuiet(for: 0.05))
        await server.shutdown(grace: 0.2)
        #expect(try await client.waitForClose())
    }

    @Test func server_listensOnIPv6() async throws {
        let server = try HTTPServer(configuration: .init(host: "::1", port: 0, threads: 1), router: .testing(), logger: quietLogger)
        do { try server.start() } catch {
            return  // no IPv6 loopback in this environment
        }
        let client = try TestClient(port: server.port, host: "::1")
        try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try await client.readResponse()
        #expect(response.status == 200)
        await server.shutdown(grace: 1)
    }

    @Test func server_answersHalfClosedClients_thenCloses() async throws {
        try await withServer(.testing()) { server in
            let client = try TestClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            client.shutdownWrite()
            #expect(try await client.readResponse().status == 200)
            #expect(try await client.readResponse().status == 200)
            #expect(try await client.waitForClose())
        }
    }
}

@Suite(.serialized) struct LiveServerBackpressureTests {
    @Test func server_pausesAClientThatPipelinesWithoutReading_andDeliversEverythingInOrder() async throws {
        let calls = Atomic<Int>(0)
        var router = Router()
        router.add(.get, "/big/{n}") { request in
            calls.wrappingAdd(1, ordering: .relaxed)
            let n = UInt8(request.pathParameters["n"]!)!
            return HTTPResponse(status: 200, body: Array(repeating: n, count: 1_000_000))
        }
        try await withServer(router, configure: { $0.limits.maxPipelinedRequests = 32 }) { server in
            let client = try TestClient(port: server.port)
            var requests = ""
            for i in 0..<20 { requests += "GET /big/\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
            try client.send(requests)
            #expect(await waitUntil { calls.load(ordering: .relaxed) >= 2 })
            // The kernel buffers hold a few MB; past that the server stops reading and handling.
            #expect(await !waitUntil(timeout: 0.3) { calls.load(ordering: .relaxed) == 20 },
                    "a client that does not read must not make the server buffer 20 MB")
            for i in 0..<20 {
                let response = try await client.readResponse(timeout: 10)
                #expect(response.body.count == 1_000_000)
                #expect(response.body.first == UInt8(i))
            }
            #expect(calls.load(ordering: .relaxed) == 20)
        }
    }

    @Test func server_answersHeadOfAStreamedResponse_withoutLength() async throws {
        var router = Router()
        router.add(.get, "/stream") { _ in .streaming { writer in try await writer.write("x") } }
        try await withServer(router) { server in
            let client = try TestClient(port: server.port)
            try client.send("HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try await client.readResponse(head: true)
            #expect(head.headers["content-length"] == nil)
            #expect(head.headers["transfer-encoding"] == "chunked")
            try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().status == 404, "the connection is still in sync")
        }
    }

    @Test func server_asALifecycleService_drainsOnTheGroupsGracefulShutdown() async throws {
        let gate = Gate()
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0, threads: 1)
        configuration.timeouts.shutdownGrace = 30
        let server = try HTTPServer(configuration: configuration, router: .testing(gate: gate), logger: quietLogger)
        try server.start()
        let group = ServiceGroup(services: [server], logger: quietLogger)
        let running = Task { try await group.run() }
        let busy = try TestClient(port: server.port)
        try busy.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(await waitUntil { gate.arrived == 1 })
        await group.triggerGracefulShutdown()
        #expect(await waitUntil { (try? TestClient(port: server.port)) == nil }, "no new connections")
        gate.open()
        let response = try await busy.readResponse()
        #expect(response.status == 200, "the request in flight finishes")
        #expect(response.headers["connection"] == "close")
        try await running.value
    }

    @Test func server_shutsDown_whenTheRunningTaskIsCancelled() async throws {
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), router: .testing(), logger: quietLogger)
        let running = Task { try await server.run(gracefulShutdownOnCancel: 1) }
        #expect(await waitUntil { server.port != 0 && (try? TestClient(port: server.port)) != nil })
        running.cancel()
        try await running.value
        #expect((try? TestClient(port: server.port)) == nil)
    }
}
