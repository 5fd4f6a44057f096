extension HTTPHeaders {
    /// Collects a header list that arrives as separate name and value bytes (HTTP/2's HPACK decoder
    /// hands them over one field at a time) into fields read in place, as the HTTP/1.1 parser's are:
    /// one allocation per header list instead of an array and a `String` for each longer name or value.
    /// Its buffers are kept from list to list. Confined to one thread (a connection's loop).
    public struct Collector: Sendable {
        private var builder = ReceivedFields.Builder()

        public init() {}

        /// Fields collected since the last `finish` or `reset`.
        public var count: Int { builder.count }

        /// Adds one field (both copied).
        public mutating func append(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
            builder.append(name: name, value: value)
        }

        /// Adds one field given as text.
        public mutating func append(name: String, value: String) {
            var name = name
            var value = value
            name.withUTF8 { name in value.withUTF8 { value in builder.append(name: name, value: value) } }
        }

        /// The fields collected, and the collector empty again.
        public mutating func finish() -> HTTPHeaders {
            HTTPHeaders(received: builder.finish())
        }

        /// Forgets the fields collected.
        public mutating func reset() { builder.reset() }
    }
}
