import HTTPServer
import TaskProtocol

/// `GET /auth/whoami`: who the presented token belongs to and what it may do, so the page shows
/// only the actions the token can take (a read-only token sees no buttons). With tokens off the API
/// is open, and the answer says so: every scope, as `anonymous`.
enum Whoami {
    static func response(to request: HTTPRequest, auth: BearerAuth?) -> HTTPResponse {
        let name: String
        let scopes: [String]
        if let auth {
            // The middleware already let this request through, so the token is one of the file's.
            guard let entry = auth.holder(of: request) else {
                return HTTPError(status: 401, detail: "the bearer token is not valid").response
            }
            name = entry.name
            scopes = entry.scopes.sorted()
        } else {
            name = "anonymous"
            scopes = BearerTokens.knownScopes.sorted()
        }
        let body = JSONValue.object(["name": .string(name), "scopes": .array(scopes.map { .string($0) }),
                                     "auth": .bool(auth != nil)])
        return .json(bytes: body.serializedBytes())
    }
}
