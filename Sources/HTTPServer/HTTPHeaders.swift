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
    /// One reference either way, so a request (copied several times on its way) stays small.
    private enum Storage: Sendable {
        case received(ReceivedFields)
        case strings([Field])
    }

    private var storage: Storage

    /// The fields as received or added, duplicates included.
    public var fields: [Field] {
        switch storage {
        case .received(let fields): fields.fields
        case .strings(let fields): fields
        }
    }

    public init() { storage = .strings([]) }
    public init(_ fields: [(String, String)]) { storage = .strings(fields.map { (name: $0.0, value: $0.1) }) }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }
    public init(arrayLiteral elements: (String, String)...) { self.init(elements) }

    /// Fields as the parser received them, read in place.
    init(received: ReceivedFields) { storage = .received(received) }

    /// The first value of `name`; setting replaces every field of that name (nil removes them).
    public subscript(name: String) -> String? {
        get {
            switch storage {
            case .received(let fields):
                return fields.firstIndex(of: name).map(fields.value)
            case .strings(let fields):
                for field in fields where Self.same(field.name, name) { return field.value }
                return nil
            }
        }
        set {
            remove(name: name)
            if let newValue { add(name: name, value: newValue) }
        }
    }

    /// Runs `body` on the bytes of the first value of `name` (nil when there is none) without making
    /// a `String` of a received value: for checks on the per-request path (the bearer token).
    func withFirstValue<R>(of name: String, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        switch storage {
        case .received(let fields):
            guard let index = fields.firstIndex(of: name) else { return body(nil) }
            return fields.withValue(index, body)
        case .strings:
            guard var value = self[name] else { return body(nil) }
            return value.withUTF8 { body($0) }
        }
    }

    /// `withFirstValue(of:_:)` for a field the parser notes as it parses: no name compared.
    func withFirstValue<R>(of field: KnownField, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        // These headers live for this call, so the received bytes stay valid while `body` runs.
        if let received = unsafeReceivedValue(of: field) { return body(received) }
        return withFirstValue(of: field.name, body)
    }

    /// For the per-request path: the bytes of the first value of `field` as received, valid only while
    /// these headers live (the caller must hold them, e.g. a borrowed request); `.some(nil)` when there
    /// is no such field, nil when the fields are strings (use `withFirstValue`).
    @inline(__always)
    func unsafeReceivedValue(of field: KnownField) -> UnsafeBufferPointer<UInt8>?? {
        guard case .received(let fields) = storage else { return nil }
        guard let index = fields.firstIndex(of: field) else { return .some(nil) }
        return .some(fields.unsafeValue(index))
    }

    /// The first value of a field the parser notes as it parses (`self[field.name]`, faster).
    func firstValue(of field: KnownField) -> String? {
        switch storage {
        case .received(let fields): fields.firstIndex(of: field).map(fields.value)
        case .strings: self[field.name]
        }
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        switch storage {
        case .received(let fields): fields.indices(of: name).map(fields.value)
        case .strings(let fields): fields.filter { Self.same($0.name, name) }.map(\.value)
        }
    }

    /// True when at least one field is called `name`.
    public func contains(_ name: String) -> Bool {
        switch storage {
        case .received(let fields): fields.firstIndex(of: name) != nil
        case .strings(let fields): fields.contains { Self.same($0.name, name) }
        }
    }

    /// Appends a field, keeping any existing ones of the same name.
    public mutating func add(name: String, value: String) {
        withStrings { $0.append((name: name, value: value)) }
    }

    /// Makes room for `count` fields (a session collecting a request's fields one by one).
    public mutating func reserveCapacity(_ count: Int) {
        withStrings { $0.reserveCapacity(count) }
    }

    /// Removes every field called `name`.
    public mutating func remove(name: String) {
        withStrings { $0.removeAll { Self.same($0.name, name) } }
    }

    /// How many fields there are, duplicates included.
    public var count: Int {
        switch storage {
        case .received(let fields): fields.count
        case .strings(let fields): fields.count
        }
    }
    /// True when there is no field.
    public var isEmpty: Bool { count == 0 }
    /// The fields in order, as `(name, value)` strings.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
    /// One `name: value` line per field.
    public var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }

    /// Changes the fields as strings (received ones become strings first), in place when unshared.
    private mutating func withStrings(_ change: (inout [Field]) -> Void) {
        var strings: [Field]
        switch storage {
        case .received(let fields): strings = fields.fields
        case .strings(let fields): strings = fields
        }
        storage = .strings([])  // so that `strings` holds the only reference and grows in place
        change(&strings)
        storage = .strings(strings)
    }

    /// ASCII case-insensitive equality of two field names.
    static func same(_ a: String, _ b: String) -> Bool {
        // Lengths first (stored, for native strings): most names differ there.
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in sameName(x, y) } }
    }

    /// ASCII case-insensitive equality of two field names as bytes. Names of eight bytes or more go
    /// by words (the last one overlapping the one before): equal, or differing only in the 0x20 bit
    /// of letters. Shorter names, and words with a byte of 0x80 or above, go byte by byte.
    @inline(__always)
    static func sameName(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        if x.count >= 8, let a = x.baseAddress, let b = y.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            var start = 0
            while true {
                let u = UnsafeRawPointer(a + start).loadUnaligned(as: UInt64.self)
                let v = UnsafeRawPointer(b + start).loadUnaligned(as: UInt64.self)
                let difference = u ^ v
                if difference != 0 {
                    if difference & ~(ones &* 0x20) != 0 { return false }
                    if (u | v) & highs != 0 { return sameNameByBytes(x, y) }
                    // Every byte that differs (in 0x20 only) must be a letter.
                    let lower = u | ones &* 0x20
                    let letter = (lower &+ ones &* (0x80 - 0x61)) & ~(lower &+ ones &* (0x80 - 0x7B))
                    if (difference << 2) & ~letter != 0 { return false }
                }
                if start + 8 == x.count { return true }
                start = Swift.min(start + 8, x.count - 8)
            }
        }
        return sameNameByBytes(x, y)
    }

    static func sameNameByBytes(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        for i in 0..<x.count where x[i] != y[i] {
            guard x[i] | 0x20 == y[i] | 0x20, (x[i] | 0x20) >= 0x61, (x[i] | 0x20) <= 0x7A else { return false }
        }
        return true
    }
}
