import CNghttp2
import HTTPServer

/// Writes a response head's fields as `nghttp2_nv`s into buffers the caller sized (`withHeaders`): the
/// bytes of each name and value side by side, each name lowercased (HTTP/2 field names are lowercase,
/// RFC 9113 §8.2.1) and the fields HTTP/2 forbids dropped. Lives for one `nghttp2_submit_response`.
struct HeaderBlockWriter {
    let bytes: UnsafeMutablePointer<UInt8>
    let nvs: UnsafeMutablePointer<nghttp2_nv>
    /// Bytes written so far.
    var used = 0
    /// Fields written so far.
    var count = 0

    init(bytes: UnsafeMutablePointer<UInt8>, nvs: UnsafeMutablePointer<nghttp2_nv>) {
        self.bytes = bytes
        self.nvs = nvs
    }

    /// Names HTTP/2 forbids (RFC 9113 §8.2.2) or that the session writes itself (`content-length`), lowercase.
    static let connectionSpecific: [[UInt8]] = ["connection", "keep-alive", "transfer-encoding", "upgrade",
                                                 "proxy-connection", "content-length"].map { Array($0.utf8) }

    /// A field as the handler set it; skipped when connection-specific.
    mutating func add(_ field: HTTPHeaders.Field) {
        let nameStart = used
        append(field.name, lowercased: true)
        let name = UnsafeBufferPointer(start: bytes + nameStart, count: used - nameStart)
        if Self.connectionSpecific.contains(where: { $0.elementsEqual(name) }) {
            used = nameStart
            return
        }
        let valueStart = used
        append(field.value, lowercased: false)
        commit(nameStart: nameStart, valueStart: valueStart)
    }

    /// A field with a decimal value (`:status`, `content-length`), no `String` made of the number.
    mutating func add(name: StaticString, decimal value: Int) {
        let nameStart = used
        (bytes + used).update(from: name.utf8Start, count: name.utf8CodeUnitCount)
        used += name.utf8CodeUnitCount
        let valueStart = used
        var magnitude = value.magnitude
        if value < 0 { bytes[used] = UInt8(ascii: "-"); used += 1 }
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 { digits += 1; rest /= 10 }
        for k in stride(from: used + digits - 1, through: used, by: -1) {
            bytes[k] = UInt8(48 + magnitude % 10)
            magnitude /= 10
        }
        used += digits
        commit(nameStart: nameStart, valueStart: valueStart)
    }

    private mutating func append(_ text: String, lowercased: Bool) {
        var text = text
        text.withUTF8 { utf8 in
            guard let source = utf8.baseAddress else { return }
            (bytes + used).update(from: source, count: utf8.count)
            if lowercased {
                for k in used..<(used + utf8.count) where (0x41...0x5A).contains(bytes[k]) { bytes[k] |= 0x20 }
            }
            used += utf8.count
        }
    }

    private mutating func commit(nameStart: Int, valueStart: Int) {
        nvs[count] = nghttp2_nv(name: bytes + nameStart, value: bytes + valueStart, namelen: valueStart - nameStart,
                                valuelen: used - valueStart, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        count += 1
    }
}
