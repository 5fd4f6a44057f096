import HTTPServer
import Testing

/// Limits the server refuses at start, before anything is bound.
struct ConfigurationLimitsTests {
    private func server(maxHeaderBytes: Int) throws(HTTPServerError) -> HTTPServer {
        var configuration = HTTPServer.Configuration(port: 0)
        configuration.limits.maxHeaderBytes = maxHeaderBytes
        return try HTTPServer(configuration: configuration, router: Router())
    }

    @Test func aHeaderLimitBeyondWhatThe32BitFieldPositionsHold_isRefusedAtStart() throws {
        #expect(throws: HTTPServerError.self) { try server(maxHeaderBytes: 1 << 32) }
        #expect(throws: HTTPServerError.self) { try server(maxHeaderBytes: 0) }
        _ = try server(maxHeaderBytes: 1 << 30)
    }
}
