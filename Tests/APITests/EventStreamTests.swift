import Foundation
import RedisClient
import TaskProtocol
import TaskQueue
@testable import TaskAPI
import Testing
import TestSupport

/// `GET /events`: Celery's events as Server-Sent Events, read over a real socket.
@Suite struct EventStreamTests {
    /// The events of an SSE body: (id, event, data) of each, and the comment lines.
    static func parse(_ text: String) -> (events: [(id: String?, type: String, data: String)], comments: [String]) {
        var events: [(String?, String, String)] = []
        var comments: [String] = []
        for block in text.components(separatedBy: "\n\n") where !block.isEmpty {
            var id: String?, type = "message", data = ""
            for line in block.components(separatedBy: "\n") {
                if line.hasPrefix(":") { comments.append(line) }
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            if block.contains("event: ") { events.append((id, type, data)) }
        }
        return (events, comments)
    }

    /// Publishes an event message as a Celery worker does (kombu envelope, base64 body).
    func publish(_ h: APIHarness, _ body: JSONValue, routingKey: String) async throws {
        let envelope = CeleryEvent.envelope(body: body, hostname: "py@host", routingKey: routingKey)
        try await h.redis.send(["PUBLISH", RedisArgument(CeleryEvent.channel(database: 0, routingKey: routingKey)), RedisArgument(envelope)])
    }

    @Test func celeryEvents_streamWithIDs_resumeFromLastEventID_andAForeignIDGetsAReset() async throws {
        let h = try await APIHarness(withWorker: false) { $0.events.keepaliveSeconds = 0.3 }
        async let first = h.get("/events?timeout=2")
        #expect(await waitUntil(timeout: 30) {
            (try? await h.redis.send(["PUBSUB", "NUMPAT"]))?.integer == 1
        }, "the API subscribed to the event channels")
        let received = CeleryEvent.body(type: "task-received", hostname: "py@host", pid: 1, clock: 1, fields: ["uuid": "t-1", "name": "<b>add</b>"])
        let started = CeleryEvent.body(type: "task-started", hostname: "py@host", pid: 1, clock: 2, fields: ["uuid": "t-1"])
        try await publish(h, [received, started], routingKey: "task.multi")
        try await publish(h, CeleryEvent.body(type: "worker-heartbeat", hostname: "py@host", pid: 1, clock: 3), routingKey: "worker.heartbeat")
        let response = try await first
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/event-stream")
        let (events, comments) = Self.parse(response.text)
        #expect(events.map(\.type) == ["task-received", "task-started", "worker-heartbeat"])
        #expect(comments.contains(": keepalive"))
        let ids = events.compactMap(\.id)
        #expect(ids.count == 3 && Set(ids).count == 3)
        let data = try JSONValue.parse(events.first?.data ?? "")
        #expect(data["uuid"]?.stringValue == "t-1" && data["name"]?.stringValue == "<b>add</b>")

        let resumed = Self.parse(try await h.get("/events?timeout=1", headers: [("Last-Event-ID", ids[0])]).text).events
        #expect(resumed.map(\.type) == ["task-started", "worker-heartbeat"], "what came after the id, no reset")
        let workers = Self.parse(try await h.get("/events?timeout=1&types=worker", headers: [("Last-Event-ID", ids[0])]).text).events
        #expect(workers.map(\.type) == ["worker-heartbeat"])
        let foreign = Self.parse(try await h.get("/events?timeout=1", headers: [("Last-Event-ID", "0000-7")]).text).events
        #expect(foreign.map(\.type) == ["reset"])
        for (query, field) in [("types=tasks", "types"), ("types=", "types"), ("timeout=0", "timeout")] {
            let bad = try await h.get("/events?" + query)
            #expect(bad.status == 422 && bad.json?["field"] as? String == field, "\(query)")
        }
        await h.stop()
    }

    @Test func aClientThatCannotKeepUp_isEnded_notBufferedWithoutBound() async throws {
        let h = try await APIHarness(withWorker: false) { $0.events.clientBuffer = 4; $0.events.ringSize = 4 }
        let hub = h.api.eventHub
        let (_, stream) = hub.subscribe(lastEventID: nil)
        let body = CeleryEvent.body(type: "worker-heartbeat", hostname: "h", pid: 1, clock: 1)
        let envelope = CeleryEvent.envelope(body: body, hostname: "h", routingKey: "worker.heartbeat")
        for _ in 0..<10 { hub.receive(envelope) }
        var count = 0
        for await _ in stream { count += 1 }
        #expect(count == 4, "its buffer was full: it ended with what it held, the rest is for a resume")
        #expect(hub.state.withLock { $0.clients.isEmpty })
        await h.stop()
    }
}
