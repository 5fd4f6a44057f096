import Foundation
import Glibc
import TaskProtocol
import TaskQueue

extension Worker {
    /// A remote-control request heard on the pidbox channel (reader thread): answered off that thread.
    func remoteControl(_ envelope: [UInt8]) {
        let request: CeleryControl.Request
        do { request = try CeleryControl.request(from: envelope) } catch {
            logger.warning("remote control: ignored a request that does not parse: \(error)")
            return
        }
        guard CeleryControl.isAddressed(request, to: configuration.nodeName) else { return }
        Task {
            guard let reply = await controlReply(request) else { return }
            guard let routingKey = request.replyTo else { return }
            let bytes = CeleryControl.reply(reply, node: configuration.nodeName, ticket: request.ticket, clock: events.next(),
                                            routingKey: routingKey)
            // The caller waits seconds at most: a reply nobody collects must not stay forever.
            try? await broker.sendControlReply(bytes, routingKey: routingKey)
        }
    }

    /// Celery's control commands that make sense here; nil for those Celery does not answer either.
    func controlReply(_ request: CeleryControl.Request) async -> JSONValue? {
        logger.debug("remote control: \(request.method)")
        switch request.method {
        case "ping":
            return ["ok": "pong"]
        case "registered":
            return .array(registry.names.map { .string($0) })
        case "active":
            return .array(state.withLock { Array($0.inFlight.values) }.map { requestInfo($0.message, acknowledged: true) })
        case "reserved":
            let waiting = state.withLock { Array($0.prefetched.values) }.compactMap { try? TaskMessage.decode($0.raw) }
            return .array(waiting.map { requestInfo($0, acknowledged: false, running: false) })
        case "active_queues":
            return .array(configuration.queues.map(queueInfo))
        case "stats":
            return stats()
        case "conf":
            return ["worker_prefetch_multiplier": .int(Int64(configuration.prefetchMultiplier)),
                    "worker_concurrency": .int(Int64(configuration.concurrency))]
        case "enable_events":
            events.sendsTaskEvents = true
            return ["ok": "task events enabled"]
        case "disable_events":
            events.sendsTaskEvents = false
            return ["ok": "task events disabled"]
        case "revoke":
            let ids = request.arguments["task_id"].map { $0.arrayValue?.compactMap(\.stringValue) ?? [$0.stringValue].compactMap { $0 } } ?? []
            var flagged: [String] = []
            for id in ids where (try? await broker.revoke(id, evenIfUnknown: true)) != nil { flagged.append(id) }
            return ["ok": .string("tasks \(PythonRepr.repr(.array(flagged.map { .string($0) }))) flagged as revoked")]
        case "scheduled":
            // ETA tasks wait in Redis's scheduled set, not in a worker's memory: those bound for its queues.
            return .array(((try? await scheduled()) ?? []))
        case "revoked":
            return .array(((try? await broker.revokedIDs(limit: 10_000)) ?? []).map(JSONValue.string))
        case "rate_limit":
            return await setRateLimit(request.arguments)
                case "heartbeat", "hello":
            return nil  // a Python worker's gossip and mingle: nothing to say
        default:
            return ["error": .string("No such method: \(request.method)")]
        }
    }
}
