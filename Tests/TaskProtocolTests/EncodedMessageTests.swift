import Foundation
import Testing
import TaskProtocol

/// `TaskMessage.encode` (a group member, encoded only) publishes what `make` would.
@Suite struct EncodedMessageTests {
    @Test func encode_writesTheEnvelopeMakeWrites_andTheFieldsItsRecordNeeds() throws {
        var options = TaskMessage.Options()
        options.queue = "q\u{e9}"
        options.priority = 7
        options.groupID = "g"
        options.groupIndex = 3
        options.eta = Date(timeIntervalSince1970: 1_764_069_140.5)
        options.timeLimits = (30, 20)
        let args: [JSONValue] = [1, "two \"quoted\"", [3.5, nil]]
        let kwargs: JSONObject = ["k": ["nested": true]]
        let embed: JSONValue = ["callbacks": nil, "errbacks": nil, "chain": nil, "chord": ["task": "sum"]]
        let encoded = TaskMessage.encode(task: "t", id: "id-1", args: args, kwargs: kwargs, options: options, embed: embed)
        var decoded = try TaskMessage.decode(encoded.envelope)
        let made = TaskMessage.make(task: "t", id: "id-1", args: args, kwargs: kwargs, options: options, embed: embed)
        // Only the delivery tag is random in each.
        var properties = decoded.properties
        properties["delivery_tag"] = .string(made.deliveryTag)
        decoded.properties = properties
        #expect(decoded == made)
        let fromMade = TaskMessage.Encoded(made)
        #expect([encoded.id, encoded.task, encoded.queue, encoded.groupID, encoded.argsRepr, encoded.kwargsRepr]
                == [fromMade.id, fromMade.task, fromMade.queue, fromMade.groupID, fromMade.argsRepr, fromMade.kwargsRepr])
        #expect(encoded.priority == fromMade.priority && encoded.retries == fromMade.retries)
        #expect(TaskMessage.encode(task: "t", args: [], kwargs: [:]).priority == TaskMessage.make(task: "t", args: [], kwargs: [:]).priority)
    }
}

/// Celery's saved `GroupResult`, written as bytes, is the text of the JSON tree it replaced.
@Suite struct SavedGroupEncodingTests {
    @Test func encoded_isTheSerializedDocument_forNoneOneAndManyMembers() {
        for members in [[], ["a"], ["a", "b\"\\\u{e9}", "c"]] {
            let tree = JSONValue.object(["result": .array([.array([.string("g\n"), .null]),
                                                           .array(members.map { .array([.array([.string($0), .null]), .null]) })])])
            #expect(SavedGroup(id: "g\n", memberIDs: members).encoded() == tree.serializedBytes())
        }
    }
}
