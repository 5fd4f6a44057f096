import ServiceLifecycle

/// The server as a swift-service-lifecycle `Service`: in a `ServiceGroup` it serves until the group
/// shuts down gracefully (SIGTERM, or another service ending), then stops accepting and lets in-flight
/// requests finish for `timeouts.shutdownGrace` seconds. Cancellation does the same.
extension HTTPServer: Service {
    public func run() async throws {
        let grace = configuration.timeouts.shutdownGrace
        try await withGracefulShutdownHandler {
            try await run(gracefulShutdownOnCancel: grace)
        } onGracefulShutdown: {
            Task { await self.shutdown(grace: grace) }
        }
    }
}
