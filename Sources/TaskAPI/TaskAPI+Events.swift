import Foundation
import HTTPServer
import TaskProtocol

extension TaskAPI {
    /// The event kinds `?types=` chooses from: the part of a Celery event type before its first `-`.
    static let eventKinds: Set<String> = ["task", "worker"]

    /// `GET /events`: Server-Sent Events of Celery's task and worker events (`EventHub`): each
    /// `id: <boot>-<seq>`, `event: <type>`, `data: <the event's JSON>`; `: keepalive` every 15 s;
    /// `Last-Event-ID` resumes from this process's ring, else an `event: reset` comes first.
    /// `?types=task,worker` filters by kind; `?timeout=S` ends the stream after S seconds.
    func events(_ request: HTTPRequest) async throws -> HTTPResponse {
        var kinds = Self.eventKinds
        if let text = request.query["types"] {
            let chosen = Set(text.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
            guard !chosen.isEmpty, chosen.isSubset(of: Self.eventKinds) else {
                throw HTTPError(status: 422, title: "Unprocessable Content",
                                detail: "types is a comma-separated list of task and worker, not '\(text.prefix(40))'", field: "types")
            }
            kinds = chosen
        }
        var timeout: Double?
        if let text = request.query["timeout"] {
            guard let seconds = Double(text), seconds >= 1, seconds <= 86_400 else {
                throw HTTPError(status: 422, title: "Unprocessable Content",
                                detail: "timeout must be seconds from 1 to 86400, not '\(text.prefix(40))'", field: "timeout")
            }
            timeout = seconds
        }
        let hub = eventHub
        let (wanted, limit) = (kinds, timeout)
        let lastEventID = request.headers["last-event-id"]
        let headers: HTTPHeaders = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"]
        return .streaming(headers: headers) { writer in
            // Subscribed only once the stream runs (a HEAD request never runs it, so never subscribes).
            let (id, stream) = hub.subscribe(lastEventID: lastEventID)
            let timer = limit.map { seconds in
                Task {
                    try? await Task.sleep(nanoseconds: TimeBounds.nanoseconds(seconds))
                    hub.remove(id)
                }
            }
            defer {
                timer?.cancel()
                hub.remove(id)
            }
            try await writer.write(Array(": celeriac events\n\n".utf8))
            for await item in stream {
                switch item {
                case .event(let event):
                    guard wanted.contains(String(event.type.prefix { $0 != "-" })) else { continue }
                    try await writer.write(Self.frame(id: "\(hub.boot)-\(event.seq)", type: event.type, data: event.data))
                case .reset(let reason):
                    let data = JSONValue.object(["reason": .string(reason)]).serializedBytes()
                    try await writer.write(Self.frame(id: nil, type: "reset", data: data))
                case .keepalive:
                    try await writer.write(Array(": keepalive\n\n".utf8))
                }
            }
        }
    }

    /// One SSE event. `data` is one line of JSON (serialized JSON has no raw newline).
    static func frame(id: String?, type: String, data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if let id { out += Array("id: \(id)\n".utf8) }
        out += Array("event: \(type)\ndata: ".utf8) + data + [0x0A, 0x0A]
        return out
    }
}
