import Foundation

/// Celery's monitoring events (what Flower and `celery events` read): kombu messages on the fanout
/// exchange `celeryev`, which on Redis is a PUBLISH on `/<db>.celeryev/<routing key>`.
/// Worker events go one per message (`worker.online`, `worker.heartbeat`, `worker.offline`); task
/// events go in batches, a JSON array under the routing key `task.multi`, as Celery's worker sends them.
public enum CeleryEvent {
    /// The common fields, in the order Celery writes them, then `fields`, then `timestamp` and `type`.
    public static func body(type: String, hostname: String, pid: Int, clock: Int, fields: JSONObject = [:],
                            at date: Date = Date()) -> JSONValue {
        var object: JSONObject = [
            "hostname": .string(hostname),
            // Celery's utcoffset(): hours west of UTC (time.timezone // 3600), which receivers use
            // to read `timestamp` (seconds since the epoch, so the same on every host) back.
            "utcoffset": .int(Int64(-TimeZone.current.secondsFromGMT(for: date) / 3600)),
            "pid": .int(Int64(pid)),
            "clock": .int(Int64(clock)),
        ]
        for pair in fields.pairs { object[pair.key] = pair.value }
        object["timestamp"] = .double(date.timeIntervalSince1970)
        object["type"] = .string(type)
        return .object(object)
    }

    /// The pub/sub channel for a routing key (`/0.celeryev/worker.heartbeat`).
    public static func channel(database: Int, routingKey: String) -> String {
        "/\(database).celeryev/\(routingKey)"
    }

    /// The kombu envelope around an event body (an object, or an array for `task.multi`).
    public static func envelope(body: JSONValue, hostname: String, routingKey: String) -> [UInt8] {
        kombuEnvelope(body: body, headers: ["hostname": .string(hostname)], exchange: "celeryev", routingKey: routingKey)
    }

    /// A transient kombu message (events, remote-control replies): JSON body, base64-encoded.
    static func kombuEnvelope(body: JSONValue, headers: JSONObject, exchange: String, routingKey: String) -> [UInt8] {
        let envelope: JSONObject = [
            "body": .string(Data(body.serializedBytes()).base64EncodedString()),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": .object(headers),
            "properties": [
                "delivery_mode": 1,
                "delivery_info": ["exchange": .string(exchange), "routing_key": .string(routingKey)],
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": .string(TaskMessage.newID()),
            ],
        ]
        return JSONValue.object(envelope).serializedBytes()
    }
}
