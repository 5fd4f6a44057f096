import Celeriac
import Foundation
import HTTPServer
import TaskAPI

extension Registration {
    /// The body's `email`, trimmed and lower-cased; anything else in the body is a 422 naming it.
    static func requestedEmail(_ request: HTTPRequest) throws -> String {
        let body = try Submission.jsonObject(request)
        for key in body.keys where key != "email" {
            throw HTTPError(status: 422, detail: "unknown field '\(key)'", field: key)
        }
        guard let raw = body["email"]?.stringValue else {
            throw HTTPError(status: 422, detail: "'email' is required and must be a string", field: "email")
        }
        let email = raw.trimmingCharacters(in: .whitespaces).lowercased()
        guard isPlausibleEmail(email) else {
            throw HTTPError(status: 422, detail: "'\(raw)' is not an email address", field: "email")
        }
        return email
    }

    /// One `@`, a non-empty local part, a dotted domain, no spaces, at most 254 characters.
    static func isPlausibleEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard s.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != "<" && $0 != ">" && $0 != "," }
    }

    /// A user id as `POST /register` makes them (a UUID); anything else is unknown without asking Redis.
    static func isUserID(_ s: String) -> Bool {
        s.utf8.count == 36 && s.utf8.allSatisfy { $0 == UInt8(ascii: "-") || ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// The secret of an activation link: 32 random bytes (from the system's CSPRNG, `getrandom`) in
/// base64url, 43 characters. Not derived from the user id, so a link cannot be guessed from it.
enum ActivationToken {
    /// Seconds a ticket is kept after it expires, so a late click hears "expired", not "unknown": 7 days.
    static let keepAfterExpiry = 7 * 86_400

    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// 43 base64url characters: anything else is unknown without asking Redis.
    static func isWellFormed(_ s: String) -> Bool {
        s.utf8.count == 43 && s.utf8.allSatisfy { c in
            (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
        }
    }
}
