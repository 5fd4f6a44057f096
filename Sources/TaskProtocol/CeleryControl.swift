import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Celery's remote control (`celery inspect`, `app.control`, Flower), on kombu's pidbox: a request is
/// PUBLISHed on `/<db>.celery.pidbox` (fanout exchange `celery.pidbox`); a worker answers by LPUSHing
/// `{"<node>": <reply>}` to the list `<reply routing key>.reply.celery.pidbox`, where the caller waits.
public enum CeleryControl {
    public struct Request: Sendable {
        public var method: String
        public var arguments: JSONObject
        /// The nodes asked (nil: every node).
        public var destination: [String]?
        /// Or a pattern the node name must match (`matcher` "glob", the default, or "pcre").
        public var pattern: String?
        public var matcher: String?
        public var ticket: String?
        /// The reply list's routing key (nil: no reply wanted).
        public var replyTo: String?
    }

    public static func channel(database: Int) -> String { "/\(database).celery.pidbox" }

    /// The request in a pidbox envelope.
    public static func request(from envelope: [UInt8]) throws -> Request {
        func fail(_ field: String, _ reason: String) -> MessageError { MessageError(field: field, reason: reason) }
        guard case .object(let outer) = try JSONValue.parse(envelope), let encoded = outer["body"]?.stringValue else {
            throw fail("body", "not a kombu envelope")
        }
        let bodyBytes: [UInt8]
        if outer["properties"]?["body_encoding"]?.stringValue == "base64" {
            guard let data = Data(base64Encoded: encoded) else { throw fail("body", "not valid base64") }
            bodyBytes = Array(data)
        } else {
            bodyBytes = Array(encoded.utf8)
        }
        guard case .object(let body) = try JSONValue.parse(bodyBytes), let method = body["method"]?.stringValue else {
            throw fail("method", "missing")
        }
        let destination = body["destination"]?.arrayValue?.compactMap(\.stringValue)
        return Request(method: method, arguments: body["arguments"]?.objectValue ?? [:], destination: destination,
                       pattern: body["pattern"]?.stringValue, matcher: body["matcher"]?.stringValue,
                       ticket: body["ticket"]?.stringValue, replyTo: body["reply_to"]?["routing_key"]?.stringValue)
    }

    /// Whether a request is for the node `name` (kombu's destination, pattern and matcher).
    public static func isAddressed(_ request: Request, to name: String) -> Bool {
        if let destination = request.destination, !destination.isEmpty { return destination.contains(name) }
        guard let pattern = request.pattern else { return true }
        // Anyone who can PUBLISH sends these: a long pattern (a regex that backtracks for minutes) is not for us.
        guard pattern.utf8.count <= 256 else { return false }
        if request.matcher == "pcre" {
            return name.range(of: pattern, options: .regularExpression) != nil
        }
        return fnmatch(pattern, name, 0) == 0
    }

    /// The list a reply to `routingKey` goes to.
    public static func replyList(_ routingKey: String) -> String { routingKey + ".reply.celery.pidbox" }

    /// A reply envelope: `{"<node>": reply}` with the request's ticket and the worker's clock.
    public static func reply(_ reply: JSONValue, node: String, ticket: String?, clock: Int, routingKey: String) -> [UInt8] {
        CeleryEvent.kombuEnvelope(body: .object([node: reply]),
                                  headers: ["ticket": ticket.map { .string($0) } ?? .null, "clock": .int(Int64(clock))],
                                  exchange: "reply.celery.pidbox", routingKey: routingKey)
    }
}
