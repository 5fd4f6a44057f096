import HTTPServer

/// The benchmark's hello-world: `GET /` answers "Hello, World!" (bench/http/run.sh).
/// Usage: `http-hello [port] [threads]`.
@main
enum HelloServer {
    static func main() throws {
        let arguments = CommandLine.arguments
        let port = arguments.count > 1 ? Int(arguments[1]) ?? 8080 : 8080
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: port, accessLog: false)
        if arguments.count > 2, let threads = Int(arguments[2]) { configuration.threads = threads }
        var router = Router()
        let hello = Array("Hello, World!".utf8)
        router.add(.get, "/") { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: hello)
        }
        let server = try HTTPServer(configuration: configuration, router: router)
        try server.runBlocking()
    }
}
