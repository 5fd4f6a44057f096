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
    /// The same tokens as the per-request check reads them (entry i is row i).
    let table: TokenTable

    /// Parses a tokens file; the error names the line and the problem, never the token.
    public init(parsing text: String) throws(HTTPServerError) {
        var entries: [Entry] = []
        var rows: [(bytes: [UInt8], scopes: Set<String>)] = []
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
            rows.append((Array(token.utf8), scopes))
            entries.append(Entry(scopes: scopes, name: words[2...].joined(separator: " ")))
        }
        self.entries = entries
        table = TokenTable(tokens: rows)
    }

    /// The entry whose token is `token`, compared in constant time (`TokenTable.match`: every entry,
    /// over `maximumLength` bytes, found or not).
    public func match(_ token: some Collection<UInt8>) -> Entry? {
        guard token.count <= Self.maximumLength else { return nil }
        let index = Array(token).withUnsafeBytes { table.match($0) }
        return index < 0 ? nil : entries[index]
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): true
        default: false
        }
    }
}
