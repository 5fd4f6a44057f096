import ArgumentParser
import Foundation
import TaskProtocol
import TaskQueue

/// `celeriac submit NAME [ARG…]`: sends a task, like `task.delay(…)`; `--wait` polls for the result.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Send a task and print its id.")

    @OptionGroup var brokerOptions: BrokerOptions

    @Argument(help: "Task name, e.g. celery_example_2.add.") var task: String
    @Argument(help: "Positional arguments, each a JSON value (4, \"text\", [1,2]).") var args: [String] = []
    @Option(help: "Keyword arguments as a JSON object.") var kwargs: String = "{}"
    @Option(name: [.customShort("q"), .long], help: "Queue.") var queue: String = "celery"
    @Option(help: "Seconds from now before the task may run.") var countdown: Double?
    @Option(help: "Priority 0-9 (on Redis 0 is served first).") var priority: Int?
    @Option(help: "Wait this many seconds for the result and print it.") var wait: Double?

    func validate() throws {
        try Environment.check(countdown, 0...TimeBounds.maxSecondsAhead, "--countdown")
        try Environment.check(priority, 0...9, "--priority")
        try Environment.check(wait, 0...86_400, "--wait")
    }

    func run() async throws {
        var parsedArgs: [JSONValue] = []
        for (index, text) in args.enumerated() {
            // A bare word that is not JSON is taken as a string, as a shell user means it.
            parsedArgs.append((try? JSONValue.parse(text)) ?? .string(text))
            _ = index
        }
        guard let parsedKwargs = (try? JSONValue.parse(kwargs))?.objectValue else {
            throw ValidationError("--kwargs must be a JSON object")
        }
        var options = TaskMessage.Options()
        options.queue = queue
        options.priority = priority
        options.origin = "celeriac-submit@\(ProcessInfo.processInfo.hostName)"
        if let countdown { options.eta = Date().addingTimeInterval(countdown) }
        let message = TaskMessage.make(task: task, args: parsedArgs, kwargs: parsedKwargs, options: options)
        let (broker, results) = try brokerOptions.makeBroker()
        try await broker.enqueue(message)
        print(message.id)
        guard let wait else { return }
        let deadline = Date().addingTimeInterval(wait)
        while Date() < deadline {
            if let doc = try await results.get(message.id), doc.status.isReady {
                print(doc.json.serialized())
                if doc.status != .success { throw ExitCode(2) }
                return
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        FileHandle.standardError.write(Data("no result within \(wait)s\n".utf8))
        throw ExitCode(3)
    }
}

/// `celeriac result ID`: prints the stored result document.
struct ResultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "result", abstract: "Print a task's result document.")
    @OptionGroup var brokerOptions: BrokerOptions
    @Argument(help: "Task id.") var id: String

    func run() async throws {
        let (_, results) = try brokerOptions.makeBroker()
        guard let doc = try await results.get(id) else {
            FileHandle.standardError.write(Data("no result stored for \(id)\n".utf8))
            throw ExitCode(1)
        }
        print(doc.json.serialized())
    }
}

/// `celeriac dead-letters`: lists messages that could not be run, with the reason; `--requeue ID` redrives one.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dead-letters", abstract: "List or requeue dead-lettered messages.")
    @OptionGroup var brokerOptions: BrokerOptions
    @Option(help: "How many, newest first.") var limit: Int = 20
    @Option(help: "Put the message of this dead-letter entry back on its queue.") var requeue: String?

    func run() async throws {
        let (broker, _) = try brokerOptions.makeBroker()
        if let requeue {
            guard try await broker.requeueDeadLetter(requeue) else {
                FileHandle.standardError.write(Data("no dead letter with id \(requeue)\n".utf8))
                throw ExitCode(1)
            }
            print("requeued \(requeue)")
            return
        }
        for entry in try await broker.deadLetters(limit: limit) { print(entry.serialized()) }
    }
}

/// `celeriac revoke ID`: a queued or scheduled task never runs; a running one is cancelled.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a task on every worker.")
    @OptionGroup var brokerOptions: BrokerOptions
    @Argument(help: "Task id.") var id: String

    func run() async throws {
        let (broker, _) = try brokerOptions.makeBroker()
        switch try await broker.revoke(id) {
        case .revoked: print("revoked \(id)")
        case .alreadyFinished(let state):
            FileHandle.standardError.write(Data("\(id) already finished: \(state.rawValue)\n".utf8))
            throw ExitCode(2)
        case .unknown:
            FileHandle.standardError.write(Data("no task \(id)\n".utf8))
            throw ExitCode(1)
        }
    }
}
