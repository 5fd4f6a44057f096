import HTTPServer
import TaskAPI

/// The operator's web page (issue 9): a single page served at `/` with its scripts and styles compiled
/// into the binary (`Assets/`, embedded by SwiftPM), reading the task API's own JSON with the
/// operator's token. The page and its assets hold no data, so they are open; every data call the page
/// makes carries `Authorization: Bearer <token>` and meets the same scopes as any other client.
///
/// ```swift
/// let api = TaskAPI(broker: broker, results: results, logger: logger,
///                   appRoutes: app.routes + Dashboard.routes(auth: auth))
/// ```
public enum Dashboard {
    /// The page, its assets and `GET /auth/whoami`, to serve next to the task API; `auth` is the
    /// API's token middleware (nil when tokens are off: whoami then answers every scope).
    public static func routes(auth: BearerAuth?) -> [AppRoute] {
        [
            AppRoute(.get, "/", access: .open) { _, request in DashboardAsset.index.response(to: request) },
            AppRoute(.get, "/assets/{name}", access: .open) { _, request in
                let name = request.pathParameters["name"] ?? ""
                guard let asset = DashboardAsset.named[name] else {
                    throw HTTPError(status: 404, title: "Not Found", detail: "no dashboard asset named '\(name)'", field: "name")
                }
                return asset.response(to: request)
            },
            AppRoute(.get, "/auth/whoami", access: .read) { _, request in Whoami.response(to: request, auth: auth) },
        ]
    }

    /// The header fields of every page and asset: a strict policy (scripts and styles only from this
    /// origin, nothing inline, no framing), no MIME sniffing, no referrer leaking task ids.
    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy",
         "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
             + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]
}
