import Celeriac
import Foundation

extension ExampleTasks {
    /// Registers `celeriac.count`: counts to `steps`, `interval` seconds a step, reporting
    /// `PROGRESS {"current", "total"}` after each (Celery's `update_state` pattern), and returns `steps`.
    static func registerProgress(in app: App) {
        app.task("celeriac.count", parameters: ["steps", "interval"]) { args, context in
            // Checked as a double first: Int(1e300) would trap.
            guard let raw = args.optional("steps")?.doubleValue, (0...1000).contains(raw), raw == raw.rounded() else {
                throw ExceptionInfo(type: "ValueError", message: "steps must be an integer from 0 to 1000")
            }
            let steps = Int(raw)
            let interval = args.optional("interval")?.doubleValue ?? 0.1
            guard TimeBounds.isDelay(interval, atMost: 10) else {
                throw ExceptionInfo(type: "ValueError", message: "interval must be 0 to 10 seconds, not \(interval)")
            }
            for step in stride(from: 1, through: steps, by: 1) {
                try await Task.sleep(nanoseconds: TimeBounds.nanoseconds(interval))
                try await context.progress(["current": .int(Int64(step)), "total": .int(Int64(steps))])
            }
            return .int(Int64(steps))
        }
    }
}
