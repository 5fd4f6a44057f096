import Celeriac
import ExampleTasks
import Foundation

// The shipped binary: Celeriac's command line with the seed's tasks. The environment is read here only.
let environment = ProcessInfo.processInfo.environment
let outbox = URL(fileURLWithPath: environment["CELERIAC_OUTBOX"] ?? ".run/outbox")
var settings = ExampleTasks.Settings(outbox: outbox, smtpURL: environment["SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 })
let app = App(name: "celeriac")
ExampleTasks.register(in: app, settings: settings)
await app.main()
