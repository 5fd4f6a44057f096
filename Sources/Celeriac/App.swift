import Foundation
import TaskAPI
/// Users' tasks get `HTTPClient` and `SMTPClient` (libcurl, no CPU while waiting) with `import Celeriac`.
@_exported import Outbound
@_exported import Beat
@_exported import TaskProtocol
@_exported import TaskQueue
@_exported import Worker

/// What a user's binary builds: the task registry plus Celeriac's command line.
///
/// ```swift
/// // Sources/myapp/Tasks.swift
/// import Celeriac
/// func registerTasks(_ app: App) {
///     app.task("myapp.add", parameters: ["a", "b"]) { args, _ in
///         .int(try args.int("a") + args.int("b"))
///     }
/// }
/// // Sources/myapp/main.swift
/// let app = App(name: "myapp")
/// registerTasks(app)
/// await app.main()      // myapp worker -c 8, myapp api, myapp submit myapp.add 2 3 …
/// ```
public final class App: @unchecked Sendable {
    public let name: String
    public let version = "0.1.0"
    private let lock = NSLock()
    private var _registry = TaskRegistry()
    private var registrationErrors: [String] = []
    private var _routes: [AppRoute] = []
    private var _periodic: [PeriodicSchedule] = []

    public init(name: String = "celeriac") {
        self.name = name
        registerBuiltins()
    }

    /// The tasks registered so far.
    public var registry: TaskRegistry { lock.withLock { _registry } }

    /// Registers a task under the name producers use (Celery: `module.function`). `parameters` names
    /// the arguments in order, so both `add.delay(4, 5)` and `add.delay(a=4, b=5)` bind.
    /// A duplicate name is reported at start-up, before any work is taken.
    public func task(_ name: String, parameters: [String] = [], options: TaskOptions = TaskOptions(),
                     _ handler: @escaping TaskHandler) {
        lock.withLock {
            do { try _registry.register(TaskDefinition(name: name, parameters: parameters, options: options, handler: handler)) }
            catch { registrationErrors.append("\(error)") }
        }
    }

    /// Adds a route to `myapp api`, next to the generic task API (the shipped binary's `/register`).
    public func route(_ route: AppRoute) {
        lock.withLock { _routes.append(route) }
    }

    /// The periodic schedules defined in code so far.
    public var periodicSchedules: [PeriodicSchedule] { lock.withLock { _periodic } }

    func appendPeriodic(_ schedule: PeriodicSchedule) { lock.withLock { _periodic.append(schedule) } }

    func reportRegistrationError(_ text: String) { lock.withLock { registrationErrors.append(text) } }

    /// The routes added so far.
    public var routes: [AppRoute] { lock.withLock { _routes } }

    /// Throws the first registration error (validated at start-up).
    public func validate() throws {
        if let first = lock.withLock({ registrationErrors.first }) { throw RegistryError(first) }
    }

    /// Runs the command line with the process arguments.
    public func main(arguments: [String]? = nil) async {
        AppHolder.current.withLock { $0 = self }
        await CeleriacCommand.main(arguments)
    }
}

/// The app the command line runs (ArgumentParser commands are types, not instances).
enum AppHolder {
    static let current = Protected<App?>(nil)
    static var app: App {
        guard let app = current.withLock({ $0 }) else { fatalError("App.main() sets the app before parsing") }
        return app
    }
}

