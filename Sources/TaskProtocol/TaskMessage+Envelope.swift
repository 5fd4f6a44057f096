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
            // Dates and floats as text once; then the envelope measured, and written at that size.
            let texts = Texts(eta: options.eta.map(CeleryDate.format), expires: options.expires.map(CeleryDate.format),
                              hard: options.timeLimits.hard.map(JSONValue.pythonFloat),
                              soft: options.timeLimits.soft.map(JSONValue.pythonFloat),
                              sentAt: options.sentAt.map { JSONValue.pythonFloat($0.timeIntervalSince1970) })
            var size = ByteCount()
            emit(body: body, texts: texts, to: &size)
            return [UInt8](unsafeUninitializedCapacity: size.count) { buffer, initialized in
                var cursor = ByteCursor(buffer)
                emit(body: body, texts: texts, to: &cursor)
                initialized = cursor.position - buffer.baseAddress!
                precondition(initialized == size.count, "envelope smaller than measured")
            }
        }

        /// The header values that are formatted from numbers and dates.
        struct Texts {
            var eta: String?
            var expires: String?
            var hard: String?
            var soft: String?
            var sentAt: String?
        }

        /// The envelope around the encoded `body`, kombu's key order as constant text.
        private func emit<Sink: EnvelopeSink>(body: [UInt8], texts: Texts, to out: inout Sink) {
            out.put(#"{"body": ""#)
            out.putBase64(body)
            out.put(#"", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "#)
            out.putString(task)
            out.put(#", "id": "#)
            out.putString(id)
            out.put(#", "shadow": null, "eta": "#)
            if let eta = texts.eta { out.putString(eta) } else { out.put("null") }
            out.put(#", "expires": "#)
            if let expires = texts.expires { out.putString(expires) } else { out.put("null") }
            out.put(#", "group": "#)
            if let group = options.groupID { out.putString(group) } else { out.put("null") }
            out.put(#", "group_index": "#)
            if let index = options.groupIndex { out.putInt(Int64(index)) } else { out.put("null") }
            out.put(#", "retries": "#)
            out.putInt(Int64(options.retries))
            out.put(#", "timelimit": ["#)
            if let hard = texts.hard { out.putRaw(hard) } else { out.put("null") }
            out.put(", ")
            if let soft = texts.soft { out.putRaw(soft) } else { out.put("null") }
            out.put(#"], "root_id": "#)
            out.putString(rootID)
            out.put(#", "parent_id": "#)
            if let parent = options.parentID { out.putString(parent) } else { out.put("null") }
            out.put(#", "argsrepr": "#)
            out.putString(argsRepr)
            out.put(#", "kwargsrepr": "#)
            out.putString(kwargsRepr)
            out.put(#", "origin": "#)
            out.putString(options.origin)
            out.put(options.ignoreResult ? #", "ignore_result": true"# : #", "ignore_result": false"#)
            out.put(#", "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}"#)
            if let sentAt = texts.sentAt {
                out.put(#", "celeriac_sent_at": "#)
                out.putRaw(sentAt)
            }
            out.put(#"}, "properties": {"correlation_id": "#)
            out.putString(id)
            out.put(#", "reply_to": "", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "#)
            out.putString(options.queue)
            out.put(#"}, "priority": "#)
            out.putInt(Int64(options.priority ?? 0))
            out.put(#", "body_encoding": "base64", "delivery_tag": "#)
            out.putString(deliveryTag)
            out.put("}}")
        }
    }
}
