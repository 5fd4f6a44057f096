import Foundation

extension TaskMessage {
    /// What `make` builds a message from, typed, and the envelope written straight from it: kombu's key
    /// order as constant text, only the values escaped. These are the bytes `encoded()` writes for the
    /// same message field by field (FastEncodingTests holds the two equal for every option), at a
    /// fraction of the cost — a submit or a group member is encoded once, right here.
    struct MadeFields {
        var task: String
        var id: String
        var rootID: String
        var deliveryTag: String
        var argsRepr: String
        var kwargsRepr: String
        var options: Options

        /// The envelope `{"body", "content-encoding", "content-type", "headers", "properties"}`, the body
        /// the base64 of `[args, kwargs, embed]` (nil: `TaskMessage.emptyEmbed`, not compared then).
        func envelope(args: [JSONValue], kwargs: JSONObject, embed: JSONValue?) -> [UInt8] {
            var body: [UInt8] = []
            body.reserveCapacity(160)
            body.append(UInt8(ascii: "["))
            JSONValue.array(args).write(to: &body)
            JSONValue.append(", ", to: &body)
            JSONValue.object(kwargs).write(to: &body)
            if let embed, embed != TaskMessage.emptyEmbed {
                JSONValue.append(", ", to: &body)
                embed.write(to: &body)
                body.append(UInt8(ascii: "]"))
            } else {
                JSONValue.append(#", {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#, to: &body)
            }
            var out: [UInt8] = []
            out.reserveCapacity((body.count + 3) / 3 * 4 + 900 + 2 * (argsRepr.utf8.count + kwargsRepr.utf8.count))
            JSONValue.append(#"{"body": ""#, to: &out)
            Base64.encode(body, to: &out)
            JSONValue.append(#"", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "#, to: &out)
            JSONValue.writeString(task, to: &out)
            JSONValue.append(#", "id": "#, to: &out)
            JSONValue.writeString(id, to: &out)
            JSONValue.append(#", "shadow": null, "eta": "#, to: &out)
            Self.write(options.eta, to: &out)
            JSONValue.append(#", "expires": "#, to: &out)
            Self.write(options.expires, to: &out)
            JSONValue.append(#", "group": "#, to: &out)
            if let group = options.groupID { JSONValue.writeString(group, to: &out) } else { JSONValue.append("null", to: &out) }
            JSONValue.append(#", "group_index": "#, to: &out)
            if let index = options.groupIndex { JSONValue.writeInt(Int64(index), to: &out) } else { JSONValue.append("null", to: &out) }
            JSONValue.append(#", "retries": "#, to: &out)
            JSONValue.writeInt(Int64(options.retries), to: &out)
            JSONValue.append(#", "timelimit": ["#, to: &out)
            Self.write(options.timeLimits.hard, to: &out)
            JSONValue.append(", ", to: &out)
            Self.write(options.timeLimits.soft, to: &out)
            JSONValue.append(#"], "root_id": "#, to: &out)
            JSONValue.writeString(rootID, to: &out)
            JSONValue.append(#", "parent_id": "#, to: &out)
            if let parent = options.parentID { JSONValue.writeString(parent, to: &out) } else { JSONValue.append("null", to: &out) }
            JSONValue.append(#", "argsrepr": "#, to: &out)
            JSONValue.writeString(argsRepr, to: &out)
            JSONValue.append(#", "kwargsrepr": "#, to: &out)
            JSONValue.writeString(kwargsRepr, to: &out)
            JSONValue.append(#", "origin": "#, to: &out)
            JSONValue.writeString(options.origin, to: &out)
            JSONValue.append(options.ignoreResult ? #", "ignore_result": true"# : #", "ignore_result": false"#, to: &out)
            JSONValue.append(#", "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}"#, to: &out)
            if let sentAt = options.sentAt {
                JSONValue.append(#", "celeriac_sent_at": "#, to: &out)
                out.append(contentsOf: JSONValue.pythonFloat(sentAt.timeIntervalSince1970).utf8)
            }
            JSONValue.append(#"}, "properties": {"correlation_id": "#, to: &out)
            JSONValue.writeString(id, to: &out)
            JSONValue.append(#", "reply_to": "", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "#, to: &out)
            JSONValue.writeString(options.queue, to: &out)
            JSONValue.append(#"}, "priority": "#, to: &out)
            JSONValue.writeInt(Int64(options.priority ?? 0), to: &out)
            JSONValue.append(#", "body_encoding": "base64", "delivery_tag": "#, to: &out)
            JSONValue.writeString(deliveryTag, to: &out)
            JSONValue.append("}}", to: &out)
            return out
        }

        private static func write(_ date: Date?, to out: inout [UInt8]) {
            if let date { JSONValue.writeString(CeleryDate.format(date), to: &out) } else { JSONValue.append("null", to: &out) }
        }

        private static func write(_ seconds: Double?, to out: inout [UInt8]) {
            if let seconds { out.append(contentsOf: JSONValue.pythonFloat(seconds).utf8) } else { JSONValue.append("null", to: &out) }
        }
    }
}
