import Foundation

extension TaskMessage {
    /// The body as Celery serializes it: `[args, kwargs, embed]`.
    public var bodyJSON: JSONValue { .array([.array(args), .object(kwargs), embed]) }

    /// The envelope bytes to LPUSH: keys in kombu's order, body base64-encoded unless
    /// `properties.body_encoding` says otherwise.
    public func encoded() -> [UInt8] {
        if let madeEnvelope { return madeEnvelope }
        let bodyBytes = bodyJSON.serializedBytes()
        // The envelope `{"body", "content-encoding", "content-type", "headers", "properties"}` written
        // directly: the same bytes as serializing it as a JSONValue, without building one.
        var out: [UInt8] = []
        out.reserveCapacity(bodyBytes.count * 4 / 3 + 1024)
        JSONValue.append("{\"body\": ", to: &out)
        if properties["body_encoding"]?.stringValue == "base64" {
            out.append(UInt8(ascii: "\""))
            Base64.encode(bodyBytes, to: &out)  // base64's alphabet needs no JSON escape
            out.append(UInt8(ascii: "\""))
        } else {
            JSONValue.writeString(String(decoding: bodyBytes, as: UTF8.self), to: &out)
        }
        JSONValue.append(", \"content-encoding\": ", to: &out)
        JSONValue.writeString(contentEncoding, to: &out)
        JSONValue.append(", \"content-type\": ", to: &out)
        JSONValue.writeString(contentType, to: &out)
        JSONValue.append(", \"headers\": ", to: &out)
        JSONValue.object(headers).write(to: &out)
        JSONValue.append(", \"properties\": ", to: &out)
        JSONValue.object(properties).write(to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Decodes and validates an envelope the way a worker must before running it: every field
    /// Celery requires (§1.9 of the wire reference) and a 3-element body. The error names the field.
    public static func decode(_ bytes: some Collection<UInt8>) throws(MessageError) -> TaskMessage {
        let envelope: JSONValue
        do { envelope = try JSONValue.parse(bytes) } catch {
            throw MessageError(field: "envelope", reason: "not JSON (\(error))")
        }
        guard let object = envelope.objectValue else {
            throw MessageError(field: "envelope", reason: "expected an object, got \(envelope.typeName)")
        }
        guard let headers = object["headers"]?.objectValue else {
            throw MessageError(field: "headers", reason: "missing or not an object (protocol v1 messages are not supported)")
        }
        let id = headers["id"]?.stringValue
        let name = headers["task"]?.stringValue
        func fail(_ field: String, _ reason: String) -> MessageError {
            MessageError(field: field, reason: reason, taskID: id, taskName: name)
        }
        guard let id, !id.isEmpty else { throw fail("headers.id", "missing or not a string") }
        guard let name, !name.isEmpty else { throw fail("headers.task", "missing or not a string") }
        guard let properties = object["properties"]?.objectValue else { throw fail("properties", "missing or not an object") }
        guard let tag = properties["delivery_tag"], tag.stringValue != nil else {
            throw fail("properties.delivery_tag", "missing (a Python worker silently loses such a message)")
        }
        guard let info = properties["delivery_info"]?.objectValue else {
            throw fail("properties.delivery_info", "missing or not an object (a Python worker silently loses such a message)")
        }
        guard info["routing_key"]?.stringValue != nil else { throw fail("properties.delivery_info.routing_key", "missing") }
        let contentType = object["content-type"]?.stringValue ?? "application/json"
        guard contentType == "application/json" else {
            throw fail("content-type", "'\(contentType)' is not supported (only application/json)")
        }
        guard let rawBody = object["body"]?.stringValue else { throw fail("body", "missing or not a string") }
        let bodyBytes: [UInt8]
        switch properties["body_encoding"]?.stringValue {
        case "base64":
            guard let data = Data(base64Encoded: rawBody) else { throw fail("body", "not valid base64") }
            bodyBytes = Array(data)
        case nil, "utf-8":
            bodyBytes = Array(rawBody.utf8)
        case let other?:
            throw fail("properties.body_encoding", "'\(other)' is not supported")
        }
        let body: JSONValue
        do { body = try JSONValue.parse(bodyBytes) } catch { throw fail("body", "not JSON (\(error))") }
        guard let parts = body.arrayValue else { throw fail("body", "expected [args, kwargs, embed], got \(body.typeName)") }
        guard parts.count == 3 else {
            throw fail("body", "expected 3 elements [args, kwargs, embed], got \(parts.count) (this message kills a Python worker)")
        }
        guard let args = parts[0].arrayValue else { throw fail("body.args", "expected an array, got \(parts[0].typeName)") }
        guard let kwargs = parts[1].objectValue else { throw fail("body.kwargs", "expected an object, got \(parts[1].typeName)") }
        guard parts[2].objectValue != nil || parts[2].isNull else {
            throw fail("body.embed", "expected an object or null, got \(parts[2].typeName)")
        }
        for field in ["eta", "expires"] {
            if let value = headers[field], !value.isNull {
                guard let text = value.stringValue, CeleryDate.parse(text) != nil else {
                    throw fail("headers.\(field)", "not an ISO-8601 date-time: \(value.serialized())")
                }
            }
        }
        try validateNumbers(headers, fail)
        return TaskMessage(headers: headers, properties: properties, args: args, kwargs: kwargs, embed: parts[2],
                           contentType: contentType, contentEncoding: object["content-encoding"]?.stringValue ?? "utf-8")
    }

    /// The numbers a producer can put in headers, checked before any of them becomes a timer or is
    /// counted on: `timelimit` is `[hard, soft]`, each null or seconds in `0...TimeBounds.maxTimeLimit`
    /// (0 and null mean "the task's own limit", as in Celery); `retries` is a count up to `TimeBounds.maxRetries`.
    static func validateNumbers(_ headers: JSONObject, _ fail: (String, String) -> MessageError) throws(MessageError) {
        if let value = headers["timelimit"], !value.isNull {
            guard let pair = value.arrayValue, pair.count <= 2 else {
                throw fail("headers.timelimit", "expected [hard, soft] (null or seconds), got \(value.serialized())")
            }
            for item in pair where !item.isNull {
                guard let seconds = item.doubleValue, TimeBounds.isDelay(seconds, atMost: TimeBounds.maxTimeLimit) else {
                    throw fail("headers.timelimit", "each limit must be null or seconds from 0 to \(Int(TimeBounds.maxTimeLimit)), got \(value.serialized())")
                }
            }
        }
        if let value = headers["retries"], !value.isNull {
            guard case .int(let count) = value, (0...TimeBounds.maxRetries).contains(count) else {
                throw fail("headers.retries", "must be an integer from 0 to \(TimeBounds.maxRetries), got \(value.serialized())")
            }
        }
    }
}
