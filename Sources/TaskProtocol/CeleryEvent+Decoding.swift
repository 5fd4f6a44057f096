import Foundation

extension CeleryEvent {
    /// The events in a kombu message published on `celeryev`: one object, or several for Celery's
    /// batched `task.multi`. The body is base64 (`body_encoding`) or plain JSON text. Empty for
    /// anything that is not an event message (never throws: the channel is open to any publisher).
    public static func events(inEnvelope bytes: [UInt8]) -> [JSONValue] {
        guard let envelope = try? JSONValue.parse(bytes), let body = envelope["body"]?.stringValue else { return [] }
        let encoding = envelope["properties"]?["body_encoding"]?.stringValue
        let text: [UInt8]
        if encoding == "base64" {
            guard let data = Data(base64Encoded: body) else { return [] }
            text = Array(data)
        } else {
            text = Array(body.utf8)
        }
        guard let value = try? JSONValue.parse(text) else { return [] }
        let items: [JSONValue]
        if case .array(let list) = value { items = list } else { items = [value] }
        return items.filter { $0["type"]?.stringValue != nil }
    }
}
