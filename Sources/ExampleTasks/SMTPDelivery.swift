import Celeriac
import Foundation

/// Sends email over SMTP (`smtp://host:port`). Filled in by the API issue; until then it says so.
public struct SMTPDelivery: EmailDelivery {
    public var host: String
    public var port: Int

    public init(url: String) throws {
        guard let u = URL(string: url), u.scheme == "smtp", let host = u.host else {
            throw ExceptionInfo(type: "ValueError", message: "SMTP_URL must be smtp://host:port, got \(url)")
        }
        self.host = host
        self.port = u.port ?? 25
    }

    public func deliver(_ message: EmailMessage) async throws -> String {
        throw ExceptionInfo(type: "NotImplementedError", message: "SMTP delivery is not built yet")
    }
}
