/// Header fields as the HTTP/1.1 parser received them: their bytes and where each name and value
/// lies, in one array (one allocation per request), read in place by `HTTPHeaders`. Immutable.
///
/// Layout of `storage`: `count` spans (`Span`, 16 bytes each), then the field lines' bytes; a span's
/// offsets count from the first byte after the spans.
struct ReceivedFields: Sendable {
    /// Where one field's name and (trimmed) value lie.
    struct Span: Sendable, BitwiseCopyable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32
    }

    let count: Int
    private let storage: [UInt8]

    private static var spanSize: Int { MemoryLayout<Span>.stride }

    init(spans: UnsafeBufferPointer<Span>, bytes: UnsafeBufferPointer<UInt8>) {
        count = spans.count
        let spanBytes = spans.count * Self.spanSize
        storage = [UInt8](unsafeUninitializedCapacity: spanBytes + bytes.count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            if let base = spans.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: spanBytes) }
            if let base = bytes.baseAddress { (raw.baseAddress! + spanBytes).copyMemory(from: base, byteCount: bytes.count) }
            initialized = spanBytes + bytes.count
        }
    }

    /// Runs `body` with the spans and the bytes they point into.
    @inline(__always)
    private func withParts<R>(_ body: (UnsafeRawBufferPointer, UnsafePointer<UInt8>) -> R) -> R {
        storage.withUnsafeBytes { raw in
            body(raw, raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + count * Self.spanSize)
        }
    }

    @inline(__always)
    private func span(_ index: Int, _ raw: UnsafeRawBufferPointer) -> Span {
        raw.loadUnaligned(fromByteOffset: index * Self.spanSize, as: Span.self)
    }

    /// The index of the first field called `name` (ASCII case-insensitive), if any.
    func firstIndex(of name: String) -> Int? {
        var name = name
        return name.withUTF8 { wanted in
            withParts { raw, bytes in
                for index in 0..<count {
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
                (0..<count).filter { index in
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

    /// The value of field `index` as a string (invalid UTF-8 repaired, as the parser always did).
    func value(_ index: Int) -> String {
        withValue(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Every field as strings.
    var fields: [HTTPHeaders.Field] {
        withParts { raw, bytes in
            (0..<count).map { index in
                let span = span(index, raw)
                let name = UnsafeBufferPointer(start: bytes + Int(span.nameStart), count: Int(span.nameEnd - span.nameStart))
                let value = UnsafeBufferPointer(start: bytes + Int(span.valueStart), count: Int(span.valueEnd - span.valueStart))
                return (name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
            }
        }
    }
}

extension ReceivedFields {
    /// Collects a head's fields as the parser finds them; its buffers are kept from request to request.
    struct Builder: Sendable {
        private var spans: [Span] = []
        private var bytes: [UInt8] = []

        /// Fields collected so far.
        var count: Int { spans.count }

        /// Adds the field on `line`, whose name ends at `nameEnd` and whose value is `valueStart..<valueEnd`.
        mutating func append(line: UnsafeBufferPointer<UInt8>, nameEnd: Int, valueStart: Int, valueEnd: Int) {
            if bytes.isEmpty { bytes.reserveCapacity(512); spans.reserveCapacity(16) }
            let start = UInt32(bytes.count)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: line[0..<valueEnd]))
            spans.append(Span(nameStart: start, nameEnd: start &+ UInt32(nameEnd),
                              valueStart: start &+ UInt32(valueStart),
                              valueEnd: start &+ UInt32(valueEnd)))
        }

        /// The fields collected, and the builder empty again (its capacity kept).
        mutating func finish() -> ReceivedFields {
            let fields = spans.withUnsafeBufferPointer { spans in
                bytes.withUnsafeBufferPointer { ReceivedFields(spans: spans, bytes: $0) }
            }
            spans.removeAll(keepingCapacity: true)
            bytes.removeAll(keepingCapacity: true)
            return fields
        }

        /// Forgets the fields collected (keeping capacity).
        mutating func reset() {
            spans.removeAll(keepingCapacity: true)
            bytes.removeAll(keepingCapacity: true)
        }
    }
}
