import HTTPServer
import Testing

/// Feeds `chunks` and collects requests, or the status of the first error.
private func run(_ chunks: [[UInt8]], limits: HTTPParser.Limits = .init()) -> (requests: [HTTPRequest], error: Int?, continues: Int) {
    var parser = HTTPParser(limits: limits)
    var requests: [HTTPRequest] = []
    var continues = 0
    for chunk in chunks {
        parser.feed(chunk)
        do {
            while let event = try parser.next() {
                switch event {
                case .request(let r): requests.append(r)
                case .expectContinue: continues += 1
                }
            }
        } catch {
            return (requests, error.status, continues)
        }
    }
    return (requests, nil, continues)
}

private func run(_ text: String, limits: HTTPParser.Limits = .init()) -> (requests: [HTTPRequest], error: Int?, continues: Int) {
    run([Array(text.utf8)], limits: limits)
}

/// Same input split at every byte boundary (two pieces) and fed byte by byte.
private func everySplit(_ text: String) -> [[[UInt8]]] {
    let bytes = Array(text.utf8)
    var ways = (0...bytes.count).map { [Array(bytes[..<$0]), Array(bytes[$0...])] }
    ways.append(bytes.map { [$0] })
    return ways
}

private func summary(_ r: HTTPRequest) -> String {
    "\(r.method) \(r.path) \(r.query.sorted { $0.key < $1.key }) \(r.headers.fields.map { "\($0.name)=\($0.value)" }) \(String(decoding: r.body, as: UTF8.self)) \(r.keepAlive)"
}

@Suite struct HTTPParserTests {
    @Test func parser_parsesSimpleGet_withQueryAndHeaders() throws {
        let result = run("GET /tasks/42?wait=10&name=a%20b+c HTTP/1.1\r\nHost: x\r\nX-A:  spaced  \r\n\r\n")
        let request = try #require(result.requests.first)
        #expect(result.error == nil)
        #expect(request.method == .get)
        #expect(request.path == "/tasks/42")
        #expect(request.query == ["wait": "10", "name": "a b c"])
        #expect(request.headers["host"] == "x")
        #expect(request.headers["x-a"] == "spaced")
        #expect(request.version == .http1_1)
        #expect(request.keepAlive)
    }

    @Test func parser_givesSameResult_whenSplitAtEveryByteBoundary() {
        let inputs = [
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
            "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
            "\r\nGET /q?a=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: \u{1}\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
        for input in inputs {
            let whole = run(input)
            for chunks in everySplit(input) {
                let split = run(chunks)
                #expect(split.requests.map(summary) == whole.requests.map(summary), "\(input.debugDescription)")
                #expect(split.error == whole.error, "\(input.debugDescription)")
            }
        }
    }

    @Test func parser_returnsPipelinedRequestsInOrder() {
        let result = run("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nPOST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
        #expect(result.requests.map(\.path) == ["/1", "/2", "/3"])
        #expect(result.requests.last?.body == Array("ok".utf8))
    }

    @Test func parser_decodesChunkedBody_withExtensionsAndTrailers() throws {
        let result = run("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4;name=\"quoted value\";flag\r\nWiki\r\n5 ;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n")
        let request = try #require(result.requests.first)
        #expect(String(decoding: request.body, as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.")
        #expect(request.headers["expires"] == nil, "trailers are not merged into the headers")
    }

    @Test(arguments: [
        "zz\r\nhello\r\n0\r\n\r\n",             // not hex
        "-5\r\nhello\r\n0\r\n\r\n",             // sign
        "0x5\r\nhello\r\n0\r\n\r\n",            // 0x prefix
        "1000000000000000\r\n",                 // 16 hex digits (overflow guard)
        "5\r\nhelloXX0\r\n\r\n",                // data not followed by CRLF
        "5\nhello\r\n0\r\n\r\n",                // bare LF after size
        "5 x\r\nhello\r\n0\r\n\r\n",            // junk after size
        "5;a\u{0}b\r\nhello\r\n0\r\n\r\n",      // NUL in extension
        "\r\nhello\r\n0\r\n\r\n",               // empty size
    ])
    func parser_rejectsBadChunkSize(_ body: String) {
        let result = run("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        #expect(result.error == 400)
        #expect(result.requests.isEmpty)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n", "header folding"),
        ("GET / HTTP/1.1\r\nX: 1\r\n\r\n", "missing Host on HTTP/1.1"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Host headers"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", "NUL in a value"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", "bare CR in a value"),
        ("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", "bare LF ending a line"),
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF after the request line"),
        ("GET / HTTP/1.1\r\nHost: a\r\n\n", "bare LF ending the head"),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "space before colon"),
        ("GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", "empty field name"),
        ("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", "non-token name"),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "two spaces in request line"),
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "trailing space in request line"),
        ("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "space in target"),
        ("GET a HTTP/1.1\r\nHost: a\r\n\r\n", "relative target"),
        ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", "asterisk target on GET"),
        ("GET / HTTX/1.1\r\nHost: a\r\n\r\n", "bad protocol name"),
        ("G\u{0}T / HTTP/1.1\r\nHost: a\r\n\r\n", "NUL in method"),
        ("GET /\u{7f} HTTP/1.1\r\nHost: a\r\n\r\n", "DEL in target"),
        // Smuggling: ambiguous framing.
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "CL and TE"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "TE and CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "duplicate CL, same value"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "duplicate CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", "CL list"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", "signed CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", "hex CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", "huge CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "chunked not last"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", "TE without chunked"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked twice"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", "empty TE element"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", "space before colon in TE"),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "TE on HTTP/1.0"),
    ])
    func parser_rejectsMalformedOrAmbiguousRequest_with400(_ input: String, _ why: String) {
        for chunks in everySplit(input) {
            let result = run(chunks)
            #expect(result.error == 400, "\(why)")
            #expect(result.requests.isEmpty, "\(why)")
        }
    }

    @Test func parser_answersStatusesOtherThan400_forTheirCases() {
        #expect(run("GET / HTTP/2.0\r\nHost: a\r\n\r\n").error == 505)
        #expect(run("GET / HTTP/0.9\r\nHost: a\r\n\r\n").error == 505)
        #expect(run("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").error == 501)
        #expect(run("GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n").error == 417)
    }

    @Test func parser_enforcesLimits_with431And413() {
        let limits = HTTPParser.Limits(maxHeaderBytes: 100, maxHeaderCount: 3, maxBodyBytes: 10)
        #expect(run("GET /\(String(repeating: "a", count: 200)) HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits).error == 431)
        #expect(run("GET / HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "b", count: 120))\r\n\r\n", limits: limits).error == 431)
        // Incomplete but already too long: refused before the line ends.
        #expect(run("GET / HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "b", count: 120))", limits: limits).error == 431)
        #expect(run("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits).error == 431)
        #expect(run("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits: limits).error == 413)
        #expect(run("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", limits: limits).error == 413)
        #expect(run("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits).requests.count == 1)
        #expect(run(String(repeating: "\r\n", count: 20) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n").error == 400)
    }

    @Test func parser_reportsExpectContinue_beforeTheBody() {
        var parser = HTTPParser()
        parser.feed(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".utf8))
        guard case .expectContinue? = try? parser.next() else {
            Issue.record("expected .expectContinue")
            return
        }
        #expect(parser.isReadingBody)
        parser.feed(Array("ok".utf8))
        guard case .request(let request)? = try? parser.next() else {
            Issue.record("expected the request")
            return
        }
        #expect(request.body == Array("ok".utf8))
        // With the body already there (or no body), there is nothing to continue.
        #expect(run("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok").continues == 0)
        #expect(run("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").continues == 0)
    }

    @Test func parser_decidesKeepAlive_perVersionAndConnectionHeader() {
        #expect(run("GET / HTTP/1.1\r\nHost: a\r\n\r\n").requests[0].keepAlive)
        #expect(!run("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").requests[0].keepAlive)
        #expect(!run("GET / HTTP/1.0\r\n\r\n").requests[0].keepAlive)
        #expect(run("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").requests[0].keepAlive)
        #expect(!run("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n").requests[0].keepAlive)
    }

    @Test func parser_acceptsAbsoluteFormAndAsterisk() {
        let absolute = run("GET http://example.com:80/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n").requests
        #expect(absolute.first?.path == "/a/b")
        #expect(absolute.first?.query == ["x": "1"])
        #expect(run("GET HTTP://example.com HTTP/1.1\r\nHost: e\r\n\r\n").requests.first?.path == "/")
        #expect(run("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").requests.first?.path == "*")
    }

    @Test func parser_keepsFailing_afterAnError() {
        var parser = HTTPParser()
        parser.feed(Array("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(throws: HTTPError.self) { try parser.next() }
        #expect(throws: HTTPError.self) { try parser.next() }
    }

    @Test func parser_neverCrashes_onMutatedRequests() {
        // A deterministic mini-fuzz: byte flips, insertions and truncations of valid requests.
        let seeds = [
            "POST /tasks?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: 1\r\n\r\n",
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        ].map { Array($0.utf8) }
        var rng = SplitMix(seed: 42)
        let alphabet: [UInt8] = [0, 9, 10, 13, 32, 0x3A, 0x3B, 0x30, 0x46, 0x7F, 0x80, 0xFF, 0x2C, 0x25]
        for _ in 0..<3000 {
            var bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + rng.next() % 4) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                default: bytes.removeSubrange(at..<min(bytes.count, at + Int(rng.next() % 8)))
                }
                if bytes.isEmpty { bytes = [13] }
            }
            let whole = run([bytes])
            let bytewise = run(bytes.map { [$0] })
            #expect(whole.requests.map(summary) == bytewise.requests.map(summary))
            #expect(whole.error == bytewise.error)
        }
    }
}

/// A small deterministic PRNG for reproducible mutation tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
