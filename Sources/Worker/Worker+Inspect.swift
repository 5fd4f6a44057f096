import Foundation
import Glibc
import TaskProtocol
import TaskQueue

/// The replies of `celery inspect` that describe the worker, shaped field for field like a Python
/// worker's (Celery 5.7), because Flower's worker page indexes them without `.get`: a missing
/// `alias` in `active_queues` is a 500 there.
extension Worker {
    /// kombu's `Queue.as_dict(recurse=True)` for a queue consumed from a direct exchange of the same name.
    func queueInfo(_ queue: String) -> JSONValue {
        ["name": .string(queue),
         "exchange": ["name": .string(queue), "type": "direct", "arguments": nil, "durable": true, "passive": false,
                      "auto_delete": false, "delivery_mode": nil, "no_declare": false],
         "routing_key": .string(queue), "queue_arguments": nil, "binding_arguments": nil, "consumer_arguments": nil,
         "durable": true, "exclusive": false, "auto_delete": false, "no_ack": false, "alias": nil, "bindings": [],
         "no_declare": nil, "expires": nil, "message_ttl": nil, "max_length": nil, "max_length_bytes": nil, "max_priority": nil]
    }

    /// Celery's `Worker.stats()`: tasks started by name, pid, clock, uptime, pool, broker, prefetch and rusage.
    func stats() -> JSONValue {
        let totals = state.withLock { $0.totals }
        let pid = JSONValue.int(Int64(getpid()))
        return ["total": .object(JSONObject(totals.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                "pid": pid, "clock": .string(String(events.next())),
                "uptime": .int(Int64(Date().timeIntervalSince(startedAt).rounded())),
                "pool": ["implementation": "celeriac:SwiftTaskPool", "max-concurrency": .int(Int64(configuration.concurrency)),
                         "processes": [pid], "max-tasks-per-child": nil, "put-guarded-by-semaphore": true, "timeouts": []],
                "broker": brokerInfo(),
                "prefetch_count": .int(Int64(configuration.concurrency * configuration.prefetchMultiplier)),
                "rusage": Self.resourceUsage()]
    }

    /// kombu's `Connection.info()`, the parts that mean something here.
    private func brokerInfo() -> JSONValue {
        let address = broker.serverAddress
        var host = address, port: JSONValue = nil
        if let colon = address.lastIndex(of: ":"), let number = Int64(address[address.index(after: colon)...]) {
            host = String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = .int(number)
        }
        return ["hostname": .string(host), "userid": nil, "virtual_host": .string(String(broker.database)), "port": port,
                "insist": false, "ssl": false, "transport": "redis", "connect_timeout": 4, "transport_options": [:],
                "login_method": nil, "uri_prefix": nil, "heartbeat": 120.0, "failover_strategy": "round-robin",
                "alternates": [], "credential_provider": nil]
    }

    /// `getrusage(RUSAGE_SELF)` with Python's `resource` field names (times in seconds, maxrss in KiB).
    static func resourceUsage() -> JSONValue {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return "N/A" }
        func seconds(_ t: timeval) -> JSONValue { .double(Double(t.tv_sec) + Double(t.tv_usec) / 1e6) }
        func count(_ n: Int) -> JSONValue { .int(Int64(n)) }
        return ["utime": seconds(usage.ru_utime), "stime": seconds(usage.ru_stime), "maxrss": count(usage.ru_maxrss),
                "ixrss": count(usage.ru_ixrss), "idrss": count(usage.ru_idrss), "isrss": count(usage.ru_isrss),
                "minflt": count(usage.ru_minflt), "majflt": count(usage.ru_majflt), "nswap": count(usage.ru_nswap),
                "inblock": count(usage.ru_inblock), "oublock": count(usage.ru_oublock), "msgsnd": count(usage.ru_msgsnd),
                "msgrcv": count(usage.ru_msgrcv), "nsignals": count(usage.ru_nsignals), "nvcsw": count(usage.ru_nvcsw),
                "nivcsw": count(usage.ru_nivcsw)]
    }

    /// Celery's `inspect scheduled`: `{eta, priority, request}` for each task in Redis's scheduled set
    /// bound for this worker's queues (any band). `priority` is the message's kombu priority (0 when
    /// unset); a Python worker reports its timer's priority there, 6 for every ETA task.
    func scheduled() async throws -> [JSONValue] {
        try await broker.scheduledMessages(for: Set(queueByList.keys)).compactMap { entry in
            guard let message = try? TaskMessage.decode(entry.envelope) else { return nil }
            return ["eta": .string(CeleryDate.format(entry.due)), "priority": .int(Int64(message.priority ?? 0)),
                    "request": requestInfo(message, acknowledged: false, running: false)]
        }
    }

    /// Celery's `Request.info()`; `worker_pid` is null until the task runs, as in Celery.
    func requestInfo(_ message: TaskMessage, acknowledged: Bool, running: Bool = true) -> JSONValue {
        ["id": .string(message.id), "name": .string(message.task), "args": .array(message.args), "kwargs": .object(message.kwargs),
         "type": .string(message.task), "hostname": .string(configuration.nodeName), "time_start": nil,
         "acknowledged": .bool(acknowledged),
         "delivery_info": ["exchange": "", "routing_key": .string(message.queue), "priority": .int(Int64(message.priority ?? 0)),
                           "redelivered": .bool(message.headers["redelivered"]?.boolValue ?? false)],
         "worker_pid": running ? .int(Int64(getpid())) : nil]
    }
}
