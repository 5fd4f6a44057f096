import Foundation
import Testing
import TaskProtocol
import TestSupport

private func fixture(_ name: String) throws -> [UInt8] {
    let url = RepoPaths.celeryVectors.appendingPathComponent(name)
    guard let data = FileManager.default.contents(atPath: url.path) else {
        throw TestSupportError("fixture \(url.path) is missing")
    }
    return Array(data)
}

@Suite struct CeleryFixtureTests {
    static let goodMessages = [
        "task-message-add.json", "task-message-fetch_url.json", "task-message-countdown.json",
        "task-message-eta-expires.json", "task-message-retry-1.json", "task-message-priority-7.json",
        "task-message-restored-redelivered.json", "handmade-task-v1-full.json", "handmade-task-v2-minimal-kwargs.json",
        "handmade-task-v3-plain-body-no-base64.json", "handmade-task-v5-eta.json", "handmade-task-v6-unregistered-task.json",
        "handmade-task-v7-embed-null.json", "handmade-task-v10-eta-Z-suffix.json", "handmade-task-v11-eta-naive.json",
        "handmade-task-v12-expired.json",
    ]

    @Test(arguments: goodMessages)
    func taskMessage_decodes_andReencodesToSameValues(name: String) throws {
        let message = try TaskMessage.decode(try fixture(name))
        #expect(!message.id.isEmpty)
        #expect(!message.task.isEmpty)
        let again = try TaskMessage.decode(message.encoded())
        #expect(again == message)
    }

    @Test(arguments: ["task-message-add.json", "task-message-fetch_url.json", "task-message-countdown.json",
                      "task-message-eta-expires.json", "task-message-retry-1.json", "task-message-priority-7.json",
                      "task-message-restored-redelivered.json"])
    func taskMessage_reencodes_byteForByte(name: String) throws {
        let bytes = try fixture(name)
        let message = try TaskMessage.decode(bytes)
        #expect(String(decoding: message.encoded(), as: UTF8.self) == String(decoding: bytes, as: UTF8.self))
    }

    @Test func addMessage_hasCelerysFields() throws {
        let message = try TaskMessage.decode(try fixture("task-message-add.json"))
        #expect(message.task == "app.add")
        #expect(message.id == "99149443-348a-4ab3-a125-93d6f81803a0")
        #expect(message.args == [4, 5])
        #expect(message.kwargs == [:])
        #expect(message.queue == "celery")
        #expect(message.deliveryTag == "6109aecf-b00c-40fa-95fe-888f44dac0a9")
        #expect(message.eta == nil)
        #expect(String(decoding: message.bodyJSON.serializedBytes(), as: UTF8.self)
                == String(decoding: try fixture("task-message-add.body.json"), as: UTF8.self))
    }

    @Test func retryMessage_carriesRetriesEtaAndParent() throws {
        let message = try TaskMessage.decode(try fixture("task-message-retry-1.json"))
        #expect(message.retries == 1)
        #expect(message.eta != nil)
        #expect(message.parentID == message.id)
    }

    @Test func plainBody_withoutBase64_decodes() throws {
        let message = try TaskMessage.decode(try fixture("handmade-task-v3-plain-body-no-base64.json"))
        #expect(message.properties["body_encoding"] == nil)
        #expect(!message.args.isEmpty)
    }

    @Test func etaVariants_parseToTheSameInstantAsUTC() throws {
        let z = try TaskMessage.decode(try fixture("handmade-task-v10-eta-Z-suffix.json"))
        let naive = try TaskMessage.decode(try fixture("handmade-task-v11-eta-naive.json"))
        #expect(z.eta != nil)
        #expect(naive.eta != nil)
        let expired = try TaskMessage.decode(try fixture("handmade-task-v12-expired.json"))
        #expect(try #require(expired.expires) < Date())
    }

    @Test func priority7_goesToTheBand6List() throws {
        let message = try TaskMessage.decode(try fixture("task-message-priority-7.json"))
        #expect(message.priority == 7)
        #expect(PriorityBands.kombuDefault.listName(queue: message.queue, priority: message.priority) == "celery\u{06}\u{16}6")
    }

    @Test func poisonTwoElementBody_isRejected_namingTheBody() throws {
        #expect { try TaskMessage.decode(try fixture("handmade-task-v4-POISON-two-element-body.json")) } throws: { error in
            let e = error as? MessageError
            return e?.field == "body" && e?.taskID != nil && e!.reason.contains("got 2")
        }
    }

    @Test(arguments: [("handmade-task-v8-LOST-no-delivery-tag.json", "properties.delivery_tag"),
                      ("handmade-task-v9-LOST-no-delivery-info.json", "properties.delivery_info")])
    func lostMessages_areRejected_namingTheField(name: String, field: String) throws {
        #expect { try TaskMessage.decode(try fixture(name)) } throws: { error in
            (error as? MessageError)?.field == field
        }
    }

    @Test func unackedHashValue_holdsEnvelopeExchangeAndRoutingKey() throws {
        let value = try JSONValue.parse(try fixture("unacked-hash-value.json"))
        let parts = try #require(value.arrayValue)
        #expect(parts.count == 3)
        let envelope = parts[0].serializedBytes()
        let message = try TaskMessage.decode(envelope)
        #expect(parts[2].stringValue == message.queue)
    }

    static let results = [
        "result-success.json", "result-success-fetch_url.json", "result-success-string.json", "result-success-extended.json",
        "result-started.json", "result-failure.json", "result-failure-after-max-retries.json", "result-retry-1st.json",
        "result-retry-2nd.json", "result-failure-notregistered.json", "result-revoked-expired.json",
        "handwritten-result-failure-builtin.json", "handwritten-result-failure-custom-exc.json",
        "handwritten-result-started.json", "handwritten-result-success.json",
    ]

    @Test(arguments: results)
    func resultDocument_roundTrips_byteForByte(name: String) throws {
        let bytes = try fixture(name)
        let doc = try #require(ResultDocument(bytes: bytes))
        #expect(String(decoding: doc.encoded(), as: UTF8.self) == String(decoding: bytes, as: UTF8.self))
    }

    @Test func notRegisteredFailure_matchesWhatWeWrite() throws {
        let captured = try #require(ResultDocument(bytes: try fixture("result-failure-notregistered.json")))
        let ours = ResultDocument.failure(
            taskID: captured.taskID,
            exception: ExceptionInfo(type: "NotRegistered", message: [.string("app.nope")], module: "celery.exceptions"),
            traceback: nil)
        #expect(ours.result == captured.result)
        #expect(ours.status == .failure)
        #expect(ours.json.objectValue?.keys == captured.json.objectValue?.keys)
    }

    @Test func revokedExpired_matchesWhatWeWrite() throws {
        let captured = try #require(ResultDocument(bytes: try fixture("result-revoked-expired.json")))
        let ours = ResultDocument.revoked(taskID: captured.taskID, reason: "expired")
        #expect(ours.result == captured.result)
        #expect(ours.json.objectValue?.keys == captured.json.objectValue?.keys)
    }

    @Test func retryDocument_hasCelerysShape() throws {
        let captured = try #require(ResultDocument(bytes: try fixture("result-retry-1st.json")))
        let ours = ResultDocument.retry(taskID: captured.taskID, exception: try #require(captured.exception), traceback: "tb")
        #expect(ours.children == captured.children)
        #expect(ours.dateDone == nil)
        #expect(ours.json.objectValue?.keys == captured.json.objectValue?.keys)
    }
}
