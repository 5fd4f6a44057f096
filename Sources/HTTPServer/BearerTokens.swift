/// The tokens an API accepts, parsed from a tokens file: one per line, `<token> <scopes> <name>`, with
/// scopes comma-separated from `submit`, `read` and `admin`, and a name that stands for the token in
/// logs. `#` starts a comment. No error names a token.
///
/// ```text
/// # token                                  scopes             name
/// 3f9a0c1d7e2b4a6c8d0e1f2a3b4c5d6e         submit,read        billing-backend
/// 8c7b6a5d4e3f2a1b0c9d8e7f6a5b4c3d         read,submit,admin  ops
/// ```
public struct BearerTokens: Sendable {
    /// One accepted token.
    public struct Entry: Sendable {
        /// The token's bytes, zero-padded to `maximumLength` and packed 8 to a word: every
        /// comparison reads all of them.
        let padded: [UInt64]
        let length: Int
        /// What the token may do.
        public let scopes: Set<String>
        /// Who holds it, for the logs.
        public let name: String
    }

    /// The scopes a line may grant.
    public static let knownScopes: Set<String> = ["submit", "read", "admin"]
    /// The shortest token accepted, in characters (a short token is guessable).
    public static let minimumLength = 16
    /// The longest token accepted, in characters; every comparison covers this many bytes.
    public static let maximumLength = 256

    /// The accepted tokens, in file order.
    public let entries: [Entry]

    /// Parses a tokens file; the error names the line and the problem, never the token.
    public init(parsing text: String) throws(HTTPServerError) {
        var entries: [Entry] = []
        var seen: Set<Substring> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#"), hash == line.startIndex || line[line.index(before: hash)].isWhitespace {
                line = line[..<hash]
            }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            guard words.count >= 3 else {
                throw HTTPServerError("tokens file line \(number): expected <token> <scopes> <name>, found \(words.count) field(s)")
            }
            let token = words[0]
            guard token.utf8.count >= Self.minimumLength else {
                throw HTTPServerError("tokens file line \(number): the token is shorter than \(Self.minimumLength) characters")
            }
            guard token.utf8.count <= Self.maximumLength else {
                throw HTTPServerError("tokens file line \(number): the token is longer than \(Self.maximumLength) characters")
            }
            guard token.utf8.allSatisfy(Self.isTokenByte) else {
                throw HTTPServerError("tokens file line \(number): the token has a character a Bearer token may not (RFC 6750: A-Z a-z 0-9 - . _ ~ + / =)")
            }
            let scopes = Set(words[1].split(separator: ",").map(String.init))
            if let unknown = scopes.subtracting(Self.knownScopes).sorted().first {
                throw HTTPServerError("tokens file line \(number): unknown scope '\(unknown)' (known: admin, read, submit)")
            }
            guard !scopes.isEmpty else { throw HTTPServerError("tokens file line \(number): no scope given") }
            if !seen.insert(token).inserted { throw HTTPServerError("tokens file line \(number): the same token appears on an earlier line") }
            let padded = [UInt64](unsafeUninitializedCapacity: Self.words) { words, count in
                Self.pack(token.utf8, into: words)
                count = Self.words
            }
            entries.append(Entry(padded: padded, length: token.utf8.count, scopes: scopes, name: words[2...].joined(separator: " ")))
        }
        self.entries = entries
    }

    /// The entry whose token is `token`. The token is zero-padded to `maximumLength` bytes and every
    /// entry is compared over all of them, found or not, so the time taken says nothing about how
    /// much of a token was right, how long the right one is, or which entry matched. (Only a token
    /// longer than any accepted one is refused at once: its length is the sender's own.)
    public func match(_ token: some Collection<UInt8>) -> Entry? {
        let length = token.count
        guard length <= Self.maximumLength else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.words) { presented in
            Self.pack(token, into: presented)
            var found: Entry?
            for entry in entries where ConstantTime.equal(entry.padded, presented) && entry.length == length { found = entry }
            return found
        }
    }

    private static let words = maximumLength / 8

    /// `bytes` (at most `maximumLength`) into `words`, zero-padded, 8 bytes to a word.
    private static func pack(_ bytes: some Collection<UInt8>, into words: UnsafeMutableBufferPointer<UInt64>) {
        for i in 0..<Self.words { words[i] = 0 }
        var index = 0
        for byte in bytes {
            words[index >> 3] |= UInt64(byte) << UInt64((index & 7) * 8)
            index += 1
        }
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): true
        default: false
        }
    }
}
