import Celeriac
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The seed's tasks, under the names the seed's Python producers use.
public enum ExampleTasks {
    /// Where activation emails go.
    public struct Settings: Sendable {
        /// Folder for `.eml` files when no SMTP server is configured.
        public var outbox: URL
        /// `smtp://host:port`; nil writes to the outbox.
        public var smtpURL: String?
        /// Sender address of activation emails.
        public var sender: String = "no-reply@celeriac.local"
        /// Seconds `fetch_url` waits for a response.
        public var fetchTimeout: Double = 10

        public init(outbox: URL, smtpURL: String? = nil) {
            self.outbox = outbox
            self.smtpURL = smtpURL
        }
    }

    /// Registers `celery_example_2.add`, `celery_example_2.xsum`, `celery_example.fetch_url` and
    /// `send_activation_email`.
    public static func register(in app: App, settings: Settings) {
        app.task("celery_example_2.add", parameters: ["a", "b"]) { args, _ in
            try add(try args.value("a"), try args.value("b"))
        }
        // Python's sum(numbers): the usual chord callback, `chord(add.s(i, i) for i in …)(xsum.s())`.
        app.task("celery_example_2.xsum", parameters: ["numbers"]) { args, _ in
            guard case .array(let numbers) = try args.value("numbers") else {
                throw ExceptionInfo(type: "TypeError", message: "'\(try args.value("numbers"))' object is not iterable")
            }
            return try numbers.reduce(JSONValue.int(0)) { try add($0, $1) }
        }
        app.task("celery_example.fetch_url", parameters: ["url"]) { args, context in
            .int(Int64(try await fetchStatus(try args.string("url"), timeout: settings.fetchTimeout)))
        }
        app.task("send_activation_email", parameters: ["email", "user_id", "activation_url"]) { args, context in
            let email = try args.string("email")
            let userID = args.optional("user_id")?.stringValue ?? ""
            let link = args.optional("activation_url")?.stringValue ?? "http://localhost:8080/activate/\(userID)"
            let message = EmailMessage.activation(from: settings.sender, to: email, link: link, taskID: context.id)
            let delivery: any EmailDelivery = try settings.smtpURL.map { try SMTPDelivery(url: $0) } ?? FileOutbox(folder: settings.outbox)
            do {
                return .string(try await delivery.deliver(message))
            } catch let error as SMTPError where error.isTransient {
                // A relay that is down or busy (4xx): try again with exponential backoff, as Celery's autoretry would.
                throw Retry(after: min(60, pow(2, Double(context.retries))), reason: error, maxRetries: 5)
            }
        }
    }

    /// Python's `a + b` on JSON values: numbers (bools count as 0/1, int + int stays an int), string
    /// concatenation, list concatenation; anything else is Python's TypeError.
    static func add(_ a: JSONValue, _ b: JSONValue) throws -> JSONValue {
        func number(_ v: JSONValue) -> JSONValue? {
            switch v {
            case .int, .double: v
            case .bool(let flag): .int(flag ? 1 : 0)
            default: nil
            }
        }
        switch (a, b) {
        case (.string(let x), .string(let y)): return .string(x + y)
        case (.array(let x), .array(let y)): return .array(x + y)
        case (.string, _), (.array, _):
            let left = pythonType(a)
            throw ExceptionInfo(type: "TypeError", message: "can only concatenate \(left) (not \"\(pythonType(b))\") to \(left)")
        default: break
        }
        guard let x = number(a), let y = number(b) else {
            throw ExceptionInfo(type: "TypeError",
                                message: "unsupported operand type(s) for +: '\(pythonType(a))' and '\(pythonType(b))'")
        }
        if case .int(let i) = x, case .int(let j) = y {
            let (sum, overflow) = i.addingReportingOverflow(j)
            if !overflow { return .int(sum) }
        }
        return .double(x.doubleValue! + y.doubleValue!)
    }

    /// Python's name for the type `json.loads` makes of a value.
    static func pythonType(_ v: JSONValue) -> String {
        switch v {
        case .null: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }

    /// An HTTP GET; returns the status code. A network failure is a `FetchError` (that task fails, nothing else).
    static func fetchStatus(_ text: String, timeout: Double) async throws -> Int {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw ExceptionInfo(type: "ValueError", message: "not an http(s) URL: \(text)")
        }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        request.setValue("celeriac/0.1", forHTTPHeaderField: "User-Agent")
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            guard let http = response as? HTTPURLResponse else { throw FetchError(message: "no HTTP response from \(text)") }
            return http.statusCode
        } catch let error as FetchError {
            throw error
        } catch {
            throw FetchError(message: "GET \(text): \(error.localizedDescription)")
        }
    }
}

/// A failed fetch; Python's `get()` raises it as `FetchError` (a class Celery makes on the fly).
public struct FetchError: CeleryException, CustomStringConvertible {
    public var message: String
    public var exceptionInfo: ExceptionInfo { ExceptionInfo(type: "FetchError", message: message, module: "celeriac.errors") }
    public var description: String { message }
}

extension ExampleTasks {
    /// `celery_example_2.add`'s arithmetic, for tests.
    public static func addForTests(_ a: JSONValue, _ b: JSONValue) throws -> JSONValue { try add(a, b) }
}
