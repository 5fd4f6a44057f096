import Foundation
import Testing
import TaskProtocol

@Suite struct JSONValueTests {
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
