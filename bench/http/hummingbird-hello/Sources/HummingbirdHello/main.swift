import Hummingbird
import Logging

// GET / → "Hello, World!" on 127.0.0.1:<port> (default 8081). Usage: HummingbirdHello [port]
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8081 : 8081
var logger = Logger(label: "hummingbird-hello")
logger.logLevel = .warning
let router = Router()
router.get("/") { _, _ in "Hello, World!" }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
try await app.runService()
