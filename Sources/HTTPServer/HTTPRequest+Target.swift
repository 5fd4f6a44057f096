extension HTTPRequest {
    /// Splits an origin-form target (`/tasks?wait=5`) the way the HTTP/1.1 parser does, so requests that
    /// arrive over HTTP/2 route and read their query identically.
    public static func splitTarget(_ target: String) -> (path: String, query: [String: String]) {
        var target = target
        return target.withUTF8 { bytes in
            let end = bytes.firstIndex(of: 0x23) ?? bytes.count
            guard let mark = bytes[0..<end].firstIndex(of: 0x3F) else {
                return (String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self), [:])
            }
            let path = String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<mark]), as: UTF8.self)
            return (path, Head.parseQuery(UnsafeBufferPointer(rebasing: bytes[(mark + 1)..<end])))
        }
    }
}
