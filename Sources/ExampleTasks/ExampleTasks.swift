import Celeriac
import Foundation
import Outbound

/// The seed's tasks, under the names the seed's Python producers use.
public enum ExampleTasks {
    /// Where activation emails go, and the registration example's limits.
    public struct Settings: Sendable {
        /// Folder for `.eml` files when no SMTP server is configured.
        public var outbox: URL
        /// `smtp://user:pass@host:587` (STARTTLS required) or `smtps://user:pass@host:465`; nil writes to the outbox.
        public var smtpURL: String?
        /// A PEM CA file trusted for the SMTP server instead of the system's (`SMTP_CA_FILE`; tests, private relays).
        public var smtpCAFile: String?
        /// Lets `smtp://host:port` (no credentials) go without TLS, for a local catcher (`SMTP_ALLOW_PLAINTEXT=1`).
        public var smtpAllowPlaintext = false
        /// Sender address of activation emails.
        public var sender: String = "no-reply@celeriac.local"
        /// Seconds `fetch_url` waits for a response.
        public var fetchTimeout: Double = 10
        /// Queue the activation email task of `POST /register` goes to.
        public var emailQueue = "celery"
        /// How a failed delivery (server down, wrong password, untrusted certificate) is retried before
        /// it is a FAILURE. Default: 5 retries, 2 s doubling up to 60 s.
        public var emailRetry = RetryPolicy(maxRetries: 5, baseDelay: 2, maxDelay: 60)
        /// How long an activation link works. Default 48 hours.
        public var activationTTL: Double = 48 * 3600
        /// Minimum seconds between two activation emails for one pending address. Default 60.
        public var resendInterval: Int = 60

        /// Settings with the documented defaults.
        public init(outbox: URL, smtpURL: String? = nil) {
            self.outbox = outbox
            self.smtpURL = smtpURL
        }

        /// The delivery the settings describe; a malformed `SMTP_URL` is an error at start-up.
        func delivery() throws -> any EmailDelivery {
            guard let smtpURL else { return FileOutbox(folder: outbox) }
            return SMTPDelivery(client: try SMTPClient(url: smtpURL, caFile: smtpCAFile, allowPlaintext: smtpAllowPlaintext))
        }
    }

    /// Registers `celery_example_2.add`, `celery_example_2.xsum`, `celery_example.fetch_url` and
    /// `send_activation_email`, `celeriac.count` (progress reports), and the registration routes (`POST /register`, `GET /users/{id}`,
    /// `GET /activate/{token}`). Throws when the email settings are unusable.
    public static func register(in app: App, settings: Settings) throws {
        let delivery = try settings.delivery()
        guard TimeBounds.isDelay(settings.activationTTL, atMost: 365 * 86_400), settings.activationTTL >= 60,
              (0...86_400).contains(settings.resendInterval), TimeBounds.isDelay(settings.fetchTimeout) else {
            throw ExceptionInfo(type: "ValueError", message: "activationTTL must be 60 s to 365 days, resendInterval 0 to 86400 s, fetchTimeout a delay")
        }
        Registration.routes(settings: settings).forEach(app.route)
        registerProgress(in: app)
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
        var http = HTTPClient.Configuration()
        http.timeout = settings.fetchTimeout
        let client = HTTPClient(configuration: http)
        app.task("celery_example.fetch_url", parameters: ["url"]) { args, _ in
            .int(Int64(try await fetchStatus(try args.string("url"), client: client)))
        }
        // Every delivery failure retries per `emailRetry`; the last one is the FAILURE, naming the cause.
        var retry = settings.emailRetry
        retry.retryOn = { $0 is EmailError }
        app.task("send_activation_email", parameters: ["email", "user_id", "activation_url"],
                 options: TaskOptions(retry: retry)) { args, context in
            let email = try args.string("email")
            guard let link = args.optional("activation_url")?.stringValue else {
                throw ExceptionInfo(type: "ValueError", message: "activation_url is required")
            }
            let message = EmailMessage.activation(from: settings.sender, to: email, link: link, taskID: context.id)
            return .string(try await delivery.deliver(message))
        }
    }

    /// Python's `a + b` on JSON values: numbers (bools count as 0/1, int + int stays an int), string
    /// concatenation, list concatenation; anything else is Python's TypeError.
    static func add(_ a: JSONValue, _ b: JSONValue) throws -> JSONValue {
        func number(_ v: JSONValue) -> JSONValue? {
            switch v {
            case .int, .bigInt, .double: v
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
        // int + int never overflows in Python: past Int64, exact decimal arithmetic.
        if let i = DecimalInteger(x), let j = DecimalInteger(y) { return (i + j).json }
        return .double(x.doubleValue! + y.doubleValue!)
    }

    /// Python's name for the type `json.loads` makes of a value.
    static func pythonType(_ v: JSONValue) -> String {
        switch v {
        case .null: "NoneType"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .double: "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }

    /// A GET through libcurl (redirects followed, certificates checked); returns the final status code.
    /// No response at all is a `FetchError` (that task fails, nothing else).
    static func fetchStatus(_ text: String, client: HTTPClient) async throws -> Int {
        let scheme = text.prefix(while: { $0 != ":" }).lowercased()
        guard ["http", "https"].contains(scheme), text.hasPrefix(scheme + "://"), text.count > scheme.count + 3 else {
            throw ExceptionInfo(type: "ValueError", message: "not an http(s) URL: \(text)")
        }
        do {
            return try await client.get(text).status
        } catch let error as OutboundError {
            throw FetchError(message: error.description)
        }
    }
}

/// A failed fetch; Python's `get()` raises it as `FetchError` (a class Celery makes on the fly).
public struct FetchError: CeleryException, CustomStringConvertible {
    /// The call and why it got no response (libcurl's words).
    public var message: String
    /// Stored as `celeriac.errors.FetchError`, which Python's `get()` raises.
    public var exceptionInfo: ExceptionInfo { ExceptionInfo(type: "FetchError", message: message, module: "celeriac.errors") }
    /// The message.
    public var description: String { message }
}

extension ExampleTasks {
    /// `celery_example_2.add`'s arithmetic, for tests.
    public static func addForTests(_ a: JSONValue, _ b: JSONValue) throws -> JSONValue { try add(a, b) }
}

/// A signed integer of any size as decimal digits: just enough arithmetic for Python's `int + int`.
struct DecimalInteger: Equatable {
    var negative: Bool
    /// Least significant digit first, no leading zeros (zero is `[0]`, never negative).
    var digits: [UInt8]

    init?(_ value: JSONValue) {
        switch value {
        case .int(let i): self.init(text: String(i))
        case .bigInt(let text): self.init(text: text)
        default: return nil
        }
    }

    init?(text: String) {
        let negative = text.hasPrefix("-")
        let body = text.utf8.dropFirst(negative ? 1 : 0)
        guard !body.isEmpty, body.allSatisfy({ (48...57).contains($0) }) else { return nil }
        self.init(negative: negative, digits: body.reversed().map { $0 - 48 })
    }

    init(negative: Bool, digits: [UInt8]) {
        var digits = digits
        while digits.count > 1, digits.last == 0 { digits.removeLast() }
        self.digits = digits.isEmpty ? [0] : digits
        self.negative = negative && self.digits != [0]
    }

    /// Int when it fits, as Python's json.dumps writes either.
    var json: JSONValue {
        let text = (negative ? "-" : "") + String(decoding: digits.reversed().map { $0 + 48 }, as: UTF8.self)
        return Int64(text).map(JSONValue.int) ?? .bigInt(text)
    }

    static func + (a: DecimalInteger, b: DecimalInteger) -> DecimalInteger {
        if a.negative == b.negative { return DecimalInteger(negative: a.negative, digits: addMagnitudes(a.digits, b.digits)) }
        // Opposite signs: the larger magnitude minus the smaller, with the larger one's sign.
        let (large, small) = compareMagnitudes(a.digits, b.digits) >= 0 ? (a, b) : (b, a)
        return DecimalInteger(negative: large.negative, digits: subtractMagnitudes(large.digits, small.digits))
    }

    private static func addMagnitudes(_ x: [UInt8], _ y: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var carry: UInt8 = 0
        for k in 0..<max(x.count, y.count) {
            let sum = (k < x.count ? x[k] : 0) + (k < y.count ? y[k] : 0) + carry
            out.append(sum % 10)
            carry = sum / 10
        }
        if carry > 0 { out.append(carry) }
        return out
    }

    /// x - y for |x| ≥ |y|.
    private static func subtractMagnitudes(_ x: [UInt8], _ y: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var borrow: Int = 0
        for k in 0..<x.count {
            var digit = Int(x[k]) - borrow - Int(k < y.count ? y[k] : 0)
            borrow = digit < 0 ? 1 : 0
            if digit < 0 { digit += 10 }
            out.append(UInt8(digit))
        }
        return out
    }

    private static func compareMagnitudes(_ x: [UInt8], _ y: [UInt8]) -> Int {
        if x.count != y.count { return x.count < y.count ? -1 : 1 }
        for k in stride(from: x.count - 1, through: 0, by: -1) where x[k] != y[k] { return x[k] < y[k] ? -1 : 1 }
        return 0
    }
}
