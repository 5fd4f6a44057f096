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
        /// Queue the activation email task of `POST /register` goes to.
        public var emailQueue = "celery"

        public init(outbox: URL, smtpURL: String? = nil) {
            self.outbox = outbox
            self.smtpURL = smtpURL
        }
    }

    /// Registers `celery_example_2.add`, `celery_example_2.xsum`, `celery_example.fetch_url` and
    /// `send_activation_email`, and the API's `POST /register` example route.
    public static func register(in app: App, settings: Settings) {
        app.route(Registration.route(emailQueue: settings.emailQueue))
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
