import Celeriac
import ExampleTasks
import Foundation

// The shipped binary: Celeriac's command line with the seed's tasks. The environment is read here only.
let environment = ProcessInfo.processInfo.environment
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("celeriac: \(message)\n".utf8))
    exit(2)
}
func setting(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
let outbox = URL(fileURLWithPath: setting("CELERIAC_OUTBOX") ?? ".run/outbox")
var settings = ExampleTasks.Settings(outbox: outbox, smtpURL: setting("SMTP_URL"))
settings.smtpCAFile = setting("SMTP_CA_FILE")
settings.smtpAllowPlaintext = ["1", "true", "yes", "on"].contains(setting("SMTP_ALLOW_PLAINTEXT")?.lowercased() ?? "")
if let text = setting("EMAIL_MAX_RETRIES") {
    guard let n = Int(text), (0...100).contains(n) else { fail("EMAIL_MAX_RETRIES must be 0 to 100, not '\(text)'") }
    settings.emailRetry.maxRetries = n
}
if let text = setting("EMAIL_RETRY_DELAY") {
    guard let s = Double(text), s.isFinite, (0...3600).contains(s) else { fail("EMAIL_RETRY_DELAY must be 0 to 3600 seconds, not '\(text)'") }
    settings.emailRetry.baseDelay = s
}
let app = App(name: "celeriac")
do {
    try ExampleTasks.register(in: app, settings: settings)
} catch {
    fail("\(error)")
}
await app.main()
