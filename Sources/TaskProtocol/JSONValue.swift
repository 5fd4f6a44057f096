/// A JSON value that keeps object key order and the integer/float distinction.
///
/// Celery's documents are read by Python, which cares about neither, but the wire reference asks for
/// the captured key order (`status, result, traceback, …, task_id`), and `9` must stay `9`, not `9.0`.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer beyond Int64, as its decimal digits (Python's ints have no size limit): kept exact
    /// from the JSON text to the JSON text.
    case bigInt(String)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// An ordered JSON object. Lookups are linear: Celery's objects have a handful of keys.
public struct JSONObject: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    public private(set) var pairs: [(key: String, value: JSONValue)]

    public init(_ pairs: [(String, JSONValue)] = []) {
        self.pairs = pairs.map { (key: $0.0, value: $0.1) }
    }

    /// An object of these pairs, in this order (the caller knows the keys are distinct).
    init(pairs: [(key: String, value: JSONValue)]) {
        self.pairs = pairs
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    /// The value for `key`; setting `nil` removes it, setting a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get {
            // The byte count first: most keys differ in length, and it costs no call into the
            // string comparison (the subscript runs dozens of times per task message).
            let count = key.utf8.count
            for pair in pairs where pair.key.utf8.count == count && pair.key == key { return pair.value }
            return nil
        }
        set {
            if let index = pairs.firstIndex(where: { $0.key == key }) {
                if let newValue { pairs[index].value = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append((key: key, value: newValue))
            }
        }
    }

    /// Room for `count` pairs before the parser's first append (growing from one pair reallocates often).
    mutating func reserveParsed(_ count: Int) { pairs.reserveCapacity(count) }

    /// The parser's append of a key it knows is new (it finds repeated keys itself).
    mutating func appendParsed(_ key: String, _ value: JSONValue) {
        pairs.append((key: key, value: value))
    }

    /// The parser's answer to a repeated key: it keeps its first place and takes the last value.
    mutating func replaceParsed(at index: Int, _ value: JSONValue) {
        pairs[index].value = value
    }

    public var keys: [String] { pairs.map(\.key) }
    public var count: Int { pairs.count }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.pairs.count == rhs.pairs.count && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for pair in pairs { hasher.combine(pair.key); hasher.combine(pair.value) }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONValue {
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var intValue: Int64? {
        switch self {
        case .int(let i): i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: Int64(d)
        default: nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .bigInt(let digits): Double(digits)
        case .double(let d): d
        default: nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var isNull: Bool { self == .null }

    /// The member `key` of an object, nil for anything else.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// A name for the JSON type, for error messages ("expected an array, got object").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .bigInt, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
