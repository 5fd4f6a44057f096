/// Who may call a route: everyone, any caller with a valid token, or a caller whose token carries a
/// scope. Only an authenticating middleware (`BearerAuth`) enforces it; without one every route is open.
/// Holds no reference (the scope's name is interned), so handing it to each middleware per request
/// costs no reference counting.
public struct RouteAccess: Sendable, Hashable, CustomStringConvertible, BitwiseCopyable {
    /// The scope a token must carry; nil for `.open` and `.authenticated`.
    public var scope: String? { scopeName?.text }
    /// True for routes that never need a token (health probes).
    public let isOpen: Bool
    /// `scope` as a bit (`bit(of:)`), so that the per-request check is a mask, not a set lookup.
    let scopeBit: UInt8
    /// True when a scope is needed (`scope != nil`), read on the per-request path.
    let needsScope: Bool
    private let scopeName: InternedName?

    private init(scope: String?, isOpen: Bool) {
        scopeName = scope.map(InternedName.init)
        self.isOpen = isOpen
        needsScope = scope != nil
        scopeBit = scope.map(Self.bit(of:)) ?? 0
    }

    /// The bit of a scope a tokens file may grant (`BearerTokens.knownScopes`); 0 for any other, which
    /// no token can carry, so a route needing it is refused to every token, as the set lookup did.
    static func bit(of scope: String) -> UInt8 {
        switch scope {
        case "submit": 1
        case "read": 2
        case "admin": 4
        default: 0
        }
    }

    /// No token needed, even when tokens are on (`/healthz`, `/readyz`).
    public static let open = RouteAccess(scope: nil, isOpen: true)
    /// Any valid token: the default of a route that declares nothing, and of requests matching no route.
    public static let authenticated = RouteAccess(scope: nil, isOpen: false)
    /// A valid token that carries `name` among its scopes.
    public static func scope(_ name: String) -> RouteAccess { RouteAccess(scope: name, isOpen: false) }
    /// Reading: task status, workers, queues, dead letters, metrics.
    public static let read = scope("read")
    /// Submitting tasks.
    public static let submit = scope("submit")
    /// Changing what others submitted: revoke, requeue.
    public static let admin = scope("admin")

    /// `open`, `authenticated` or `scope <name>`, as logs and the spec-parity test spell it.
    public var description: String { isOpen ? "open" : scope.map { "scope \($0)" } ?? "authenticated" }
}
