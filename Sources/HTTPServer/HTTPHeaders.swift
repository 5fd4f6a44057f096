/// Header fields in arrival order; lookups by name are ASCII case-insensitive.
///
/// ```swift
/// let type = request.headers["content-type"]        // first value, or nil
/// var headers: HTTPHeaders = ["Content-Type": "text/plain"]
/// headers.add(name: "Set-Cookie", value: "a=1")
/// ```
/// Fields the HTTP/1.1 parser received stay as their bytes (`ReceivedFields`) until someone reads a
/// value or changes the fields: a lookup compares names in place and makes a `String` of the one value
/// asked for, so a field no handler reads costs no `String` at all. The first change turns every field
/// into `String`s; from then on (and for fields built in code or from HTTP/2) they are kept as such.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    public typealias Field = (name: String, value: String)
    /// The received fields while unchanged; nil once `stored` holds them (never both non-empty).
    private var received: ReceivedFields?
    private var stored: [Field] = []

    /// The fields as received or added, duplicates included.
    public var fields: [Field] { received?.fields ?? stored }

    public init() {}
    public init(_ fields: [(String, String)]) { stored = fields.map { (name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }
    public init(arrayLiteral elements: (String, String)...) { self.init(elements) }

    /// Fields as the parser received them, read in place.
    init(received: ReceivedFields) {
        if received.count > 0 { self.received = received }
    }

    /// The first value of `name`; setting replaces every field of that name (nil removes them).
    public subscript(name: String) -> String? {
        get {
            if let received { return received.firstIndex(of: name).map(received.value) }
            for field in stored where Self.same(field.name, name) { return field.value }
            return nil
        }
        set {
            remove(name: name)
            if let newValue { stored.append((name: name, value: newValue)) }
        }
    }

    /// Runs `body` on the bytes of the first value of `name` (nil when there is none) without making
    /// a `String` of a received value: for checks on the per-request path (the bearer token).
    func withFirstValue<R>(of name: String, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        if let received {
            guard let index = received.firstIndex(of: name) else { return body(nil) }
            return received.withValue(index, body)
        }
        guard var value = self[name] else { return body(nil) }
        return value.withUTF8 { body($0) }
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        if let received { return received.indices(of: name).map(received.value) }
        return stored.filter { Self.same($0.name, name) }.map(\.value)
    }

    /// True when at least one field is called `name`.
    public func contains(_ name: String) -> Bool {
        if let received { return received.firstIndex(of: name) != nil }
        return stored.contains { Self.same($0.name, name) }
    }

    /// Appends a field, keeping any existing ones of the same name.
    public mutating func add(name: String, value: String) {
        makeStored()
        stored.append((name: name, value: value))
    }

    /// Removes every field called `name`.
    public mutating func remove(name: String) {
        makeStored()
        stored.removeAll { Self.same($0.name, name) }
    }

    /// How many fields there are, duplicates included.
    public var count: Int { received?.count ?? stored.count }
    /// True when there is no field.
    public var isEmpty: Bool { count == 0 }
    /// The fields in order, as `(name, value)` strings.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
    /// One `name: value` line per field.
    public var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }

    /// Before a change: received fields become strings.
    private mutating func makeStored() {
        guard let received else { return }
        stored = received.fields
        self.received = nil
    }

    /// ASCII case-insensitive equality of two field names.
    static func same(_ a: String, _ b: String) -> Bool {
        // Lengths first (stored, for native strings): most names differ there.
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in sameName(x, y) } }
    }

    /// ASCII case-insensitive equality of two field names as bytes.
    @inline(__always)
    static func sameName(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        for i in 0..<x.count where x[i] != y[i] {
            guard x[i] | 0x20 == y[i] | 0x20, (x[i] | 0x20) >= 0x61, (x[i] | 0x20) <= 0x7A else { return false }
        }
        return true
    }
}
