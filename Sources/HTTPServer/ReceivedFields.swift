/// Header fields as the HTTP/1.1 parser received them: their bytes and where each name and value
/// lies, in one object (one allocation per request), read in place by `HTTPHeaders`. Immutable after
/// `make`, so it is shared freely between threads.
///
/// Layout of `storage`: the header is the field count and where the first field of each
/// `KnownField` is (found as the fields arrive, so a per-request lookup of one is a load); the
/// elements are `count` spans (`Span`, 16 bytes each), then the field lines' bytes; a span's offsets
/// count from the first byte after the spans. A `ManagedBuffer` rather than an array: making one
/// does not go through the standard library's unspecialised array allocation (a generic metadata
/// lookup per call).
struct ReceivedFields: @unchecked Sendable {
    /// Where one field's name and (trimmed) value lie.
    struct Span: Sendable, BitwiseCopyable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32
    }

    /// The field count, and the index of the first field of each known name (-1: none).
    struct Header {
        var count: Int
        var known: Known
    }

    /// The index of the first field of each `KnownField` (-1: none).
    struct Known {
        var authorization: Int32 = -1
        var requestID: Int32 = -1

        subscript(field: KnownField) -> Int32 {
            switch field {
            case .authorization: authorization
            case .requestID: requestID
            }
        }
    }

    private static var spanSize: Int { MemoryLayout<Span>.stride }

    // Never written after `make`.
    private let storage: ManagedBuffer<Header, UInt8>

    /// The fields of `spans` over `bytes`, copied.
    static func make(spans: UnsafeBufferPointer<Span>, bytes: UnsafeBufferPointer<UInt8>, known: Known) -> ReceivedFields {
        let spanBytes = spans.count * spanSize
        let made = ManagedBuffer<Header, UInt8>.create(minimumCapacity: spanBytes + bytes.count) { _ in
            Header(count: spans.count, known: known)
        }
        made.withUnsafeMutablePointerToElements { elements in
            if let base = spans.baseAddress { UnsafeMutableRawPointer(elements).copyMemory(from: base, byteCount: spanBytes) }
            if let base = bytes.baseAddress { (elements + spanBytes).update(from: base, count: bytes.count) }
        }
        return ReceivedFields(storage: made)
    }

    /// How many fields there are.
    /// (Read through a pointer: `header` is a class's `var`, and reading it so costs a dynamic
    /// exclusivity check.)
    var count: Int { storage.withUnsafeMutablePointerToHeader { $0.pointee.count } }

    /// The index of the first field called `field`, if any, without comparing names.
    func firstIndex(of field: KnownField) -> Int? {
        let index = storage.withUnsafeMutablePointerToHeader { $0.pointee.known[field] }
        return index < 0 ? nil : Int(index)
    }

    /// Runs `body` with the spans (as many as there are fields) and the bytes they point into.
    @inline(__always)
    private func withParts<R>(_ body: (UnsafeRawBufferPointer, UnsafePointer<UInt8>) -> R) -> R {
        storage.withUnsafeMutablePointers { count, elements in
            body(UnsafeRawBufferPointer(start: elements, count: count.pointee.count * Self.spanSize),
                 UnsafePointer(elements + count.pointee.count * Self.spanSize))
        }
    }

    /// The number of spans in `raw`.
    @inline(__always)
    private func count(_ raw: UnsafeRawBufferPointer) -> Int { raw.count / Self.spanSize }

    @inline(__always)
    private func span(_ index: Int, _ raw: UnsafeRawBufferPointer) -> Span {
        raw.loadUnaligned(fromByteOffset: index * Self.spanSize, as: Span.self)
    }

    /// The index of the first field called `name` (ASCII case-insensitive), if any.
    func firstIndex(of name: String) -> Int? {
        var name = name
        return name.withUTF8 { wanted in
            withParts { raw, bytes in
                for index in 0..<count(raw) {
                    let span = span(index, raw)
                    guard Int(span.nameEnd - span.nameStart) == wanted.count else { continue }
                    let found = UnsafeBufferPointer(start: bytes + Int(span.nameStart), count: wanted.count)
                    if HTTPHeaders.sameName(found, wanted) { return index }
                }
                return nil
            }
        }
    }

    /// The indices of every field called `name`, in order.
    func indices(of name: String) -> [Int] {
        var name = name
        return name.withUTF8 { wanted in
            withParts { raw, bytes in
                (0..<count(raw)).filter { index in
                    let span = span(index, raw)
                    let found = UnsafeBufferPointer(start: bytes + Int(span.nameStart), count: Int(span.nameEnd - span.nameStart))
                    return HTTPHeaders.sameName(found, wanted)
                }
            }
        }
    }

    /// Runs `body` on the value bytes of field `index`.
    func withValue<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withParts { raw, bytes in
            let span = span(index, raw)
            return body(UnsafeBufferPointer(start: bytes + Int(span.valueStart), count: Int(span.valueEnd - span.valueStart)))
        }
    }

    /// The value bytes of field `index`, valid only while this storage lives (the caller holds the
    /// headers, e.g. a borrowed request): the per-request path reads them with no closure around it.
    @inline(__always)
    func unsafeValue(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        withValue(index) { $0 }
    }

    /// The value of field `index` as a string (invalid UTF-8 repaired, as the parser always did).
    func value(_ index: Int) -> String {
        withValue(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Every field as strings.
    var fields: [HTTPHeaders.Field] {
        withParts { raw, bytes in
            (0..<count(raw)).map { index in
                let span = span(index, raw)
                let name = UnsafeBufferPointer(start: bytes + Int(span.nameStart), count: Int(span.nameEnd - span.nameStart))
                let value = UnsafeBufferPointer(start: bytes + Int(span.valueStart), count: Int(span.valueEnd - span.valueStart))
                return (name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
            }
        }
    }
}

extension ReceivedFields {
    /// Collects a head's fields as the parser finds them. Its buffers are kept from request to
    /// request and written in place up to `used`/`count` (their own counts are their capacity), so
    /// adding a field costs a copy of its line and no array growth logic.
    struct Builder: Sendable {
        private var spans: [Span] = []
        private var bytes: [UInt8] = []
        private var used = 0
        private var known = Known()

        /// Fields collected so far.
        private(set) var count = 0

        /// Room for bytes up to `end` and for one more span.
        private mutating func reserve(upTo end: Int) {
            if end > bytes.count { bytes.append(contentsOf: repeatElement(0, count: Swift.max(512, end))) }
            if count == spans.count {
                spans.append(contentsOf: repeatElement(Span(nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0), count: Swift.max(16, count)))
            }
        }

        /// Remembers where the first request id and authorization fields are (the next span is `count`).
        private mutating func noteKnown(_ name: UnsafeBufferPointer<UInt8>, nameLength: Int) {
            switch nameLength {
            case 12 where known.requestID < 0 && Self.isName(name, "x-request-id"):
                known.requestID = Int32(count)
            case 13 where known.authorization < 0 && Self.isName(name, "authorization"):
                known.authorization = Int32(count)
            default:
                break
            }
        }

        /// Adds the field on `line`, whose name ends at `nameEnd` and whose value is `valueStart..<valueEnd`.
        mutating func append(line: UnsafeBufferPointer<UInt8>, nameEnd: Int, valueStart: Int, valueEnd: Int) {
            let start = used
            reserve(upTo: start + valueEnd)
            noteKnown(line, nameLength: nameEnd)
            bytes.withUnsafeMutableBufferPointer { bytes in
                (bytes.baseAddress! + start).update(from: line.baseAddress!, count: valueEnd)
            }
            let offset = UInt32(start)
            spans[count] = Span(nameStart: offset, nameEnd: offset &+ UInt32(nameEnd), valueStart: offset &+ UInt32(valueStart),
                                valueEnd: offset &+ UInt32(valueEnd))
            used = start + valueEnd
            count += 1
        }

        /// Adds a field whose name and value arrived apart (HTTP/2's decoded header list): both are
        /// copied, the value right after the name.
        mutating func append(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
            let start = used
            let end = start + name.count + value.count
            reserve(upTo: end)
            noteKnown(name, nameLength: name.count)
            bytes.withUnsafeMutableBufferPointer { bytes in
                if let base = name.baseAddress { (bytes.baseAddress! + start).update(from: base, count: name.count) }
                if let base = value.baseAddress { (bytes.baseAddress! + start + name.count).update(from: base, count: value.count) }
            }
            let offset = UInt32(start)
            let valueStart = offset &+ UInt32(name.count)
            spans[count] = Span(nameStart: offset, nameEnd: valueStart, valueStart: valueStart, valueEnd: UInt32(end))
            used = end
            count += 1
        }

        /// Whether `line` starts with the field name `name` (any case; the caller checked the length).
        @inline(__always)
        private static func isName(_ line: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
            HTTPHeaders.sameName(UnsafeBufferPointer(rebasing: line[0..<name.utf8CodeUnitCount]),
                                 UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        }

        /// The fields collected, and the builder empty again (its capacity kept).
        mutating func finish() -> ReceivedFields {
            let fields = spans.withUnsafeBufferPointer { spans in
                bytes.withUnsafeBufferPointer { bytes in
                    ReceivedFields.make(spans: UnsafeBufferPointer(rebasing: spans[0..<count]),
                                        bytes: UnsafeBufferPointer(rebasing: bytes[0..<used]), known: known)
                }
            }
            reset()
            return fields
        }

        /// Forgets the fields collected (keeping capacity).
        mutating func reset() {
            used = 0
            count = 0
            known = Known()
        }
    }
}

/// Fields looked up on every request by the server itself; the parser notes where they are.
enum KnownField {
    case authorization, requestID

    /// The field's name, for headers kept as strings.
    var name: String {
        switch self {
        case .authorization: "authorization"
        case .requestID: "x-request-id"
        }
    }
}
