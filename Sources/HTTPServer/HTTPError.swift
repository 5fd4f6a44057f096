/// An error a handler throws to answer with a status and an `application/problem+json` body;
/// the parser and the connection use it for every refusal too (400, 408, 413, 431, 503, …).
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var title: String
    public var detail: String?
    /// The request field at fault, for validation errors (`"field":"args"`).
    public var field: String?

    public init(status: Int, title: String? = nil, detail: String? = nil, field: String? = nil) {
        self.status = status
        self.title = title ?? HTTPStatus.reason(status)
        self.detail = detail
        self.field = field
    }

    public var description: String { "\(status) \(title)" + (detail.map { ": \($0)" } ?? "") }

    /// The problem+json response for this error.
    public var response: HTTPResponse {
        var json = #"{"type":"about:blank","title":"#
        JSON.appendString(title, to: &json)
        json += #","status":\#(status)"#
        if let detail {
            json += #","detail":"#
            JSON.appendString(detail, to: &json)
        }
        if let field {
            json += #","field":"#
            JSON.appendString(field, to: &json)
        }
        json += "}"
        return HTTPResponse(status: status, headers: ["Content-Type": "application/problem+json"], body: Array(json.utf8))
    }

    static func badRequest(_ detail: String) -> HTTPError { HTTPError(status: 400, detail: detail) }
}

/// Minimal JSON string escaping, so this module needs no Foundation.
enum JSON {
    static func appendString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Reason phrases for status lines and default problem titles.
public enum HTTPStatus {
    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 425: "Too Early"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
