import Foundation
import Testing
import TaskProtocol

@Suite struct JSONValueTests {
    @Test func integersBeyondInt64_stayExactDigits() throws {
        for text in ["9223372036854775808", "-9223372036854775809", "123456789012345678901234567890"] {
            let value = try JSONValue.parse(text)
            #expect(value == .bigInt(text))
            #expect(String(decoding: value.serializedBytes(), as: UTF8.self) == text)
            #expect(PythonRepr.repr(value) == text)
        }
        #expect(try JSONValue.parse("9223372036854775807") == .int(.max))
        #expect(try JSONValue.parse("1e30") == .double(1e30))
    }

    @Test func serializes_likePythonJsonDumps() {
        let value: JSONValue = ["a": [1, 2.5, "x"], "b": nil, "c": true, "é": "ü😀"]
        #expect(value.serialized() == #"{"a": [1, 2.5, "x"], "b": null, "c": true, "\u00e9": "\u00fc\ud83d\ude00"}"#)
    }

    @Test func parses_escapesAndSurrogatePairs() throws {
        let value = try JSONValue.parse(#"{"s": "a\"b\\c\nd\u00e9\ud83d\ude00", "n": -12, "f": 1e3, "z": 0.5}"#)
        #expect(value["s"] == "a\"b\\c\nd\u{e9}😀")
        #expect(value["n"] == .int(-12))
        #expect(value["f"] == .double(1000))
        #expect(value["z"] == .double(0.5))
    }

    @Test func keepsKeyOrder_andIntegerness() throws {
        let text = #"{"z": 1, "a": 2.0, "m": [true, false, null]}"#
        #expect(try JSONValue.parse(text).serialized() == text)
    }

    @Test func aRepeatedKey_keepsItsFirstPlace_andTakesTheLastValue_likePythonJsonLoads() throws {
        // Nested objects repeat the outer keys without clashing; an escaped key equals its plain spelling.
        let text = #"{"a": 1, "b": {"a": 2, "b": 3, "a": 4}, "\u0061": 5, "c": [{"c": 6, "c": 7}], "b": 8}"#
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == #"{"a": 5, "b": 8, "c": [{"c": 7}]}"#)
        let inner = try JSONValue.parse(#"{"x": {"y": 1, "z": 2, "y": 3}, "y": 4}"#)
        #expect(inner.serialized() == #"{"x": {"y": 3, "z": 2}, "y": 4}"#)
        // More keys than one allocation holds, each repeated once, in reverse.
        let keys = (0..<20).map { "key\($0)" }
        let pairs = (keys + keys.reversed()).enumerated().map { "\"\($1)\": \($0)" }
        let many = try JSONValue.parse("{" + pairs.joined(separator: ", ") + "}")
        #expect(many.objectValue?.keys == keys)
        #expect(many["key0"] == .int(39))
        #expect(many["key19"] == .int(20))
    }

    @Test(arguments: ["", "{", "[1,", "{\"a\" 1}", "tru", "\"abc", "01x", "[1] 2", "{\"a\":}", "\"\\x\"", "-", "1.e"])
    func rejects_malformedInput(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func rejects_deepNesting_withoutCrashing() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    }

    @Test func pythonRepr_matchesPython() {
        #expect(PythonRepr.tuple([4, 5]) == "(4, 5)")
        #expect(PythonRepr.tuple([4]) == "(4,)")
        #expect(PythonRepr.tuple([]) == "()")
        #expect(PythonRepr.dict(["a": 1, "b": "x"]) == "{'a': 1, 'b': 'x'}")
        #expect(PythonRepr.repr("it's") == "\"it's\"")
        #expect(PythonRepr.repr(["x": [nil, true, 1.0]]) == "{'x': [None, True, 1.0]}")
    }

    @Test func celeryDate_formatsAndParses() throws {
        let date = try #require(CeleryDate.parse("2026-11-25T11:12:20.923179+00:00"))
        #expect(CeleryDate.format(date) == "2026-11-25T11:12:20.923179+00:00")
        #expect(CeleryDate.parse("2026-11-25T11:12:20Z") == CeleryDate.parse("2026-11-25T11:12:20"))
        #expect(CeleryDate.parse("2026-11-25T13:12:20+02:00") == CeleryDate.parse("2026-11-25T11:12:20+00:00"))
        #expect(CeleryDate.parse("yesterday") == nil)
        #expect(CeleryDate.parse("2026-13-01T00:00:00") == nil)
    }

    @Test func madeMessage_hasEveryProtocol2Header_inCelerysOrder() throws {
        let fixture = try JSONValue.parse(try String(contentsOf: TestSupportPaths.vectors("task-message-add.json"), encoding: .utf8))
        let made = TaskMessage.make(task: "app.add", args: [4, 5], kwargs: [:])
        #expect(made.headers.keys == fixture["headers"]?.objectValue?.keys)
        #expect(made.properties.keys == fixture["properties"]?.objectValue?.keys)
        #expect(made.headers["argsrepr"] == "(4, 5)")
        let decoded = try TaskMessage.decode(made.encoded())
        #expect(decoded == made)
    }
}

import TestSupport
enum TestSupportPaths {
    static func vectors(_ name: String) -> URL { RepoPaths.celeryVectors.appendingPathComponent(name) }
}

@Suite struct CanvasTests {
    /// `chain(add.s(1, 2), add.s(10), add.si(5, 5).set(queue='q2'))` as Celery 5.7 sends it.
    static let chainBody = #"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": [{"task": "celery_example_2.add", "args": [5, 5], "kwargs": {}, "options": {"queue": "q2", "task_id": "d8500c9b-fcec-457d-94aa-06f613053db2", "reply_to": "x"}, "subtask_type": null, "immutable": true}, {"task": "celery_example_2.add", "args": [10], "kwargs": {}, "options": {"task_id": "b189b2f7-fa36-4c79-913b-31abe85bd2e0", "reply_to": "x"}, "subtask_type": null, "immutable": false}], "chord": null}]"#

    @Test func chain_sendsTheLastSignatureNext_withTheResultFirst_andTheRestOfTheChain() throws {
        let body = try #require(try JSONValue.parse(Self.chainBody).arrayValue)
        var first = TaskMessage.make(task: "celery_example_2.add", args: [1, 2], kwargs: [:])
        first.embed = body[2]
        let next = try Canvas.followUps(of: first, result: 3).messages
        #expect(next.count == 1)
        let second = try #require(next.first)
        #expect(second.id == "b189b2f7-fa36-4c79-913b-31abe85bd2e0")
        #expect(second.args == [3, 10])
        #expect(second.parentID == first.id)
        #expect(second.rootID == first.id)
        let third = try #require(try Canvas.followUps(of: second, result: 13).messages.first)
        #expect(third.id == "d8500c9b-fcec-457d-94aa-06f613053db2")
        #expect(third.args == [5, 5], "immutable signatures do not get the result")
        #expect(third.queue == "q2")
        #expect(try Canvas.followUps(of: third, result: 10).messages.isEmpty)
    }

    @Test func linkCallbacks_getTheResult() throws {
        var message = TaskMessage.make(task: "a", args: [], kwargs: [:])
        message.embed = ["callbacks": [["task": "b", "args": [100], "kwargs": [:], "options": [:], "subtask_type": nil, "immutable": false]],
                         "errbacks": nil, "chain": nil, "chord": nil]
        let sent = try Canvas.followUps(of: message, result: 2).messages
        #expect(sent.map(\.task) == ["b"])
        #expect(sent.first?.args == [2, 100])
    }

    static func sig(_ task: String, _ args: [JSONValue] = [], id: String? = nil, type: String? = nil,
                    kwargs: JSONObject = [:], options: JSONObject = [:]) -> JSONValue {
        var options = options
        if let id { options["task_id"] = .string(id) }
        return ["task": .string(task), "args": .array(args), "kwargs": .object(kwargs), "options": .object(options),
                "subtask_type": type.map { .string($0) } ?? .null, "immutable": false]
    }

    @Test func aGroupInAChain_sendsEachMember_withTheGroupAndTheResult() throws {
        var message = TaskMessage.make(task: "a", args: [], kwargs: [:])
        let group = Self.sig("celery.group", id: "g1", type: "group",
                             kwargs: ["tasks": [Self.sig("b", [10], id: "b1"), Self.sig("b", [20], id: "b2")]])
        message.embed = ["callbacks": nil, "errbacks": nil, "chain": [group], "chord": nil]
        let sent = try Canvas.followUps(of: message, result: 2)
        #expect(sent.messages.map(\.id) == ["b1", "b2"])
        #expect(sent.messages.map(\.args) == [[2, 10], [2, 20]])
        #expect(sent.messages.map(\.groupID) == ["g1", "g1"])
        #expect(sent.messages.map(\.groupIndex) == [0, 1])
        #expect(sent.chordSizes.isEmpty)
    }

    @Test func aChordInAChain_sendsItsHeader_namingTheBody_andCarriesTheRestOfTheChain() throws {
        var message = TaskMessage.make(task: "a", args: [], kwargs: [:])
        let header = Self.sig("celery.group", id: "g2", type: "group",
                              kwargs: ["tasks": [Self.sig("b", [10], id: "h1"), Self.sig("b", [20], id: "h2")]])
        let chord = Self.sig("celery.chord", id: "g2", type: "chord",
                             kwargs: ["header": header, "body": Self.sig("sum", id: "body"), "kwargs": [:]])
        let after = Self.sig("after", id: "after")
        message.embed = ["callbacks": nil, "errbacks": nil, "chain": [after, chord], "chord": nil]
        let sent = try Canvas.followUps(of: message, result: 2)
        #expect(sent.chordSizes.map(\.groupID) == ["g2"])
        #expect(sent.chordSizes.map(\.size) == [2])
        #expect(sent.messages.map(\.id) == ["h1", "h2"])
        #expect(sent.messages.map(\.args) == [[2, 10], [2, 20]])
        let callback = try #require(sent.messages.first?.chordCallback)
        #expect(callback["options"]?["task_id"] == "body")
        #expect(callback["options"]?["group_id"] == "g2")
        // The chord completes: its body gets the results, and the chain goes on after it.
        let body = try #require(try Canvas.chordCallback(callback, parent: sent.messages[1], results: [12, 22]).messages.first)
        #expect(body.id == "body")
        #expect(body.args == [[12, 22]])
        #expect(try Canvas.followUps(of: body, result: 34).messages.map(\.id) == ["after"])
    }

    @Test func unknownCanvasTypes_areRefused_clearly() {
        var message = TaskMessage.make(task: "a", args: [], kwargs: [:])
        message.embed = ["chain": [Self.sig("x", type: "chunks")]]
        #expect(throws: Canvas.Unsupported.self) { try Canvas.followUps(of: message, result: 1) }
    }
}
