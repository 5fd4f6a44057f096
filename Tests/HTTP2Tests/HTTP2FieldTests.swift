@testable import HTTP2
import HTTPServer
import Testing

/// A request's header fields as handlers see them over HTTP/2 (collected as received bytes, as HTTP/1.1's are).
@Suite struct HTTP2FieldTests {
    static func fieldsRouter() -> Router {
        var router = testRouter()
        router.add(.post, "/fields") { request in
            .text(request.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ";") + "|" + (request.headers["X-Request-ID"] ?? "-"))
        }
        return router
    }

    @Test func fieldsArriveInOrderWithAuthorityAsHost_andTrailersAfterThem() throws {
        let driver = try SessionDriver(router: Self.fieldsRouter())
        driver.handshake()
        let agent = String(repeating: "a", count: 40)
        let block = Frame.requestBlock(method: "POST", path: "/fields",
                                       extra: [("content-type", "application/json"), ("x-request-id", "fields-1"), ("user-agent", agent)])
        driver.send(Frame.encode(Frame.headers, flags: 0x04, stream: 1, block))
        driver.send(Frame.encode(Frame.data, stream: 1, Array("{}".utf8)))
        driver.send(Frame.encode(Frame.headers, flags: 0x05, stream: 1, [0x00] + Frame.string("x-trailer") + Frame.string("t")))
        let expected = "content-type=application/json;x-request-id=fields-1;user-agent=\(agent);host=test;x-trailer=t|fields-1"
        #expect(driver.body(of: 1) == (expected, true))
        #expect(driver.transport.accessLog.map(\.id) == ["fields-1"])
    }

    @Test func aHostFieldOfTheRequestsOwnIsKept_andEachStreamGetsOnlyItsOwnFields() throws {
        let driver = try SessionDriver(router: Self.fieldsRouter())
        driver.handshake()
        let first = Frame.requestBlock(method: "POST", path: "/fields", extra: [("host", "example.org"), ("x-a", "1")])
        let second = Frame.requestBlock(method: "POST", path: "/fields", extra: [("x-b", "2")])
        driver.send(Frame.encode(Frame.headers, flags: 0x04, stream: 1, first))
        driver.send(Frame.encode(Frame.headers, flags: 0x04, stream: 3, second))
        driver.send(Frame.encode(Frame.data, flags: 0x01, stream: 3, []))
        driver.send(Frame.encode(Frame.data, flags: 0x01, stream: 1, []))
        #expect(driver.body(of: 1) == ("host=example.org;x-a=1|-", true))
        #expect(driver.body(of: 3) == ("x-b=2;host=test|-", true))
    }
}
