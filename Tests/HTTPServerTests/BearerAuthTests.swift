@testable import HTTPServer
import Logging
import Synchronization
import Testing

/// Keeps every log line (message and metadata), to show no token ever reaches one.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "test.auth") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }
}

/// A byte collection that counts how many of its elements were read.
struct CountingBytes: Collection {
    final class Reads: @unchecked Sendable { var count = 0 }
    let bytes: [UInt8]
    let reads: Reads
    var startIndex: Int { bytes.startIndex }
    var endIndex: Int { bytes.endIndex }
    func index(after i: Int) -> Int { i + 1 }
    subscript(position: Int) -> UInt8 {
        reads.count += 1
        return bytes[position]
    }
}

@Suite struct BearerAuthTests {
    static let reader = "reader-token-0123456789abcdef"
    static let submitter = "submit-token-0123456789abcdef"
    static let admin = "admin-token-0123456789abcdef0"
    static let file = """
    # token                         scopes             name
    \(reader) read reader
    \(submitter)   submit,read   ci backend   # a comment after the name
    \(admin) admin ops
    """

    private func router(_ auth: BearerAuth) -> Router {
        var router = Router()
        router.add(.get, "/healthz", access: .open) { _ in .text("ok") }
        router.add(.get, "/tasks/{id}", access: .read) { _ in .text("task") }
        router.add(.post, "/tasks", access: .submit) { _ in HTTPResponse(status: 202) }
        router.add(.delete, "/tasks/{id}", access: .admin) { _ in HTTPResponse(status: 202) }
        router.add(.get, "/whoami") { _ in .text("any token") }
        router.use(auth)
        return router
    }

    private func call(_ router: Router, _ method: HTTPMethod, _ path: String, token: String?) async throws -> HTTPResponse {
        var headers = HTTPHeaders()
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return try await router.respond(to: HTTPRequest(method: method, path: path, headers: headers, id: "r1"))
    }

    @Test func bearerSchemeReadAsOneWord_acceptsExactlyWhatTheByteRuleAccepts() {
        // The rule: "bearer" in any case, one space, then the token (spaces around it trimmed).
        func expected(_ value: [UInt8]) -> [UInt8]? {
            guard value.count >= 7, Array(value[0..<6]).map({ $0 | 0x20 }) == Array("bearer".utf8), value[6] == 0x20
            else { return nil }
            let token = value[7...].drop { $0 == 0x20 }.reversed().drop { $0 == 0x20 }.reversed()
            return token.isEmpty ? nil : Array(token)
        }
        let alphabet = Array("bBeEaArR \t\0@bearerBEARERx".utf8) + [0x42 ^ 0x80, 0x62 ^ 0x20 ^ 0x01]
        var generator = SystemRandomNumberGenerator()
        var samples: [[UInt8]] = ["Bearer abc", "bearer  abc  ", "BEARER x", "Bearer", "Bearer ", "Bearer  ", "Bearerx abc",
                                  "Bearer\tabc", "Bearex abc", "Basic abc", "bEaReR 0123456789abcdef"].map { Array($0.utf8) }
        for _ in 0..<20_000 {
            // Mostly near-misses of the scheme, with a random tail.
            var value = Array("bearer ".utf8).map { Int.random(in: 0..<6, using: &generator) == 0 ? alphabet.randomElement()! : $0 }
            value.append(contentsOf: (0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement()! })
            samples.append(Array(value.prefix(Int.random(in: 0...value.count, using: &generator))))
        }
        for value in samples {
            let found = value.withUnsafeBufferPointer { BearerAuth.bearerToken($0).map { Array($0) } }
            #expect(found == expected(value), "\(value)")
        }
    }

    @Test func constantTimeCompare_readsEveryByte_whereverTheFirstDifferenceIs() {
        let base = Array(0..<32).map(UInt8.init)
        for position in [0, 1, 15, 31] {
            var other = base
            other[position] ^= 0xFF
            let reads = CountingBytes.Reads()
            #expect(!ConstantTime.equal(CountingBytes(bytes: base, reads: reads), CountingBytes(bytes: other, reads: reads)))
            #expect(reads.count == 64, "a difference at byte \(position) still reads all 2 × 32 bytes")
        }
        let reads = CountingBytes.Reads()
        #expect(ConstantTime.equal(CountingBytes(bytes: base, reads: reads), CountingBytes(bytes: base, reads: reads)))
        #expect(reads.count == 64)
        let shorter = CountingBytes.Reads()
        #expect(!ConstantTime.equal(CountingBytes(bytes: [1, 2], reads: shorter), CountingBytes(bytes: [1, 2, 3], reads: shorter)))
        #expect(shorter.count == 5, "unequal lengths: still every byte of both")
    }

    @Test func tokensFile_parsesScopesNamesAndComments() throws {
        let tokens = try BearerTokens(parsing: Self.file)
        #expect(tokens.entries.map(\.name) == ["reader", "ci backend", "ops"])
        #expect(tokens.entries[1].scopes == ["submit", "read"])
        #expect(tokens.match(Array(Self.submitter.utf8))?.name == "ci backend")
        #expect(tokens.match(Array("submit-token-0123456789abcdeX".utf8)) == nil)
        // A prefix or an extension of a token is not the token (the padding hides lengths, not them).
        #expect(tokens.match(Array(Self.submitter.dropLast().utf8)) == nil)
        #expect(tokens.match(Array((Self.submitter + "0").utf8)) == nil)
        #expect(tokens.match(Array((Self.submitter + "\u{0}").utf8)) == nil)
        #expect(tokens.match([UInt8](repeating: 0x61, count: 10_000)) == nil)
    }

    @Test func tokensOfDifferentLengths_matchOnlyThemselves_withinTheTablesWidth() throws {
        let long = String(repeating: "k", count: 63) + "L", short = "s123456789abcdef0"
        let tokens = try BearerTokens(parsing: "\(long) read long\n\(short) submit short\n")
        #expect(tokens.match(Array(long.utf8))?.name == "long")
        #expect(tokens.match(Array(short.utf8))?.name == "short")
        #expect(tokens.match(Array((long + "L").utf8)) == nil, "longer than the widest token")
        #expect(tokens.match(Array((short + "\u{0}\u{0}").utf8)) == nil, "zero bytes are not the padding")
        #expect(tokens.match(Array(long.dropLast().utf8)) == nil)
        #expect(tokens.match([]) == nil)
    }

    @Test func tokensFile_errorsNameTheLine_neverTheToken() {
        let secret = "secret-token-0123456789abcdef"
        for (text, expected) in [("\(secret) read", "line 1: expected"), ("\n\(secret) write x", "line 2: unknown scope 'write'"),
                                 ("tiny read x", "line 1: the token is shorter"),
                                 (String(repeating: "s", count: 257) + " read x", "line 1: the token is longer"), ("\(secret)! read x", "line 1: the token has a character"),
                                 ("\(secret) read a\n\(secret) admin b", "line 2: the same token")] {
            #expect {
                try BearerTokens(parsing: text)
            } throws: { error in
                "\(error)".contains(expected) && !"\(error)".contains(secret) && !"\(error)".contains("tiny") && !"\(error)".contains("sss")
            }
        }
    }

    @Test func eachStatus_401WithoutOrWithAWrongToken_403WithoutTheScope_elseTheRoute() async throws {
        let capture = LogCapture()
        let router = router(BearerAuth(tokens: try BearerTokens(parsing: Self.file), logger: capture.logger))
        let missing = try await call(router, .get, "/tasks/1", token: nil)
        #expect(missing.status == 401)
        #expect(missing.headers["WWW-Authenticate"] == "Bearer realm=\"celeriac\"")
        #expect(missing.headers["Content-Type"] == "application/problem+json")
        let wrong = try await call(router, .get, "/tasks/1", token: "reader-token-0123456789abcdeF")
        #expect(wrong.status == 401)
        #expect(wrong.headers["WWW-Authenticate"] == "Bearer realm=\"celeriac\", error=\"invalid_token\"")
        let basic = try await router.respond(to: HTTPRequest(method: .get, path: "/tasks/1", headers: ["Authorization": "Basic \(Self.reader)"]))
        #expect(basic.status == 401)
        let forbidden = try await call(router, .post, "/tasks", token: Self.reader)
        #expect(forbidden.status == 403)
        #expect(forbidden.headers["Content-Type"] == "application/problem+json")
        #expect(forbidden.headers["WWW-Authenticate"]?.contains("error=\"insufficient_scope\", scope=\"submit\"") == true)
        // Unmatched routes need a token too: no route list for the anonymous.
        #expect(try await call(router, .get, "/nowhere", token: nil).status == 401)
        #expect(try await call(router, .get, "/nowhere", token: Self.reader).status == 404)
        #expect(try await call(router, .put, "/tasks", token: Self.reader).status == 405)
        let lines = capture.lines.withLock { $0 }
        #expect(lines.contains { $0.contains("403") && $0.contains("reader") })
        for token in [Self.reader, Self.submitter, Self.admin, "reader-token-0123456789abcdeF"] {
            #expect(!lines.contains { $0.contains(token) || $0.contains(token.suffix(10)) }, "no token text in \(lines)")
        }
    }

    @Test func eachScope_opensOnlyItsRoutes_andTheProbesNeedNoToken() async throws {
        let router = router(BearerAuth(tokens: try BearerTokens(parsing: Self.file), logger: quietLogger))
        #expect(try await call(router, .get, "/healthz", token: nil).status == 200)
        #expect(try await call(router, .head, "/healthz", token: nil).status == 200)
        let expected: [(String, HTTPMethod, String, Int)] = [
            (Self.reader, .get, "/tasks/1", 200), (Self.reader, .post, "/tasks", 403), (Self.reader, .delete, "/tasks/1", 403),
            (Self.submitter, .get, "/tasks/1", 200), (Self.submitter, .post, "/tasks", 202), (Self.submitter, .delete, "/tasks/1", 403),
            (Self.admin, .get, "/tasks/1", 403), (Self.admin, .post, "/tasks", 403), (Self.admin, .delete, "/tasks/1", 202),
            (Self.admin, .get, "/whoami", 200), (Self.reader, .get, "/whoami", 200),
        ]
        for (token, method, path, status) in expected {
            #expect(try await call(router, method, path, token: token).status == status, "\(method) \(path)")
        }
        // The scheme is case-insensitive; spaces around the token do not matter.
        let lower = try await router.respond(to: HTTPRequest(method: .get, path: "/tasks/1", headers: ["authorization": "bearer  \(Self.reader) "]))
        #expect(lower.status == 200)
    }

    @Test func reload_replacesTheTokens_forTheNextRequest() async throws {
        let auth = BearerAuth(tokens: try BearerTokens(parsing: Self.file), logger: quietLogger)
        let router = router(auth)
        #expect(try await call(router, .get, "/tasks/1", token: Self.reader).status == 200)
        let rotated = "rotated-token-0123456789abcdef"
        auth.reload(try BearerTokens(parsing: "\(rotated) read rotated"))
        #expect(auth.tokenCount == 1)
        #expect(try await call(router, .get, "/tasks/1", token: Self.reader).status == 401)
        #expect(try await call(router, .get, "/tasks/1", token: rotated).status == 200)
    }

    @Test func withoutAuthMiddleware_routesAreOpen_whateverTheyDeclare() async throws {
        var router = Router()
        router.add(.delete, "/tasks/{id}", access: .admin) { _ in HTTPResponse(status: 202) }
        #expect(try await router.respond(to: HTTPRequest(method: .delete, path: "/tasks/1")).status == 202)
    }
}
