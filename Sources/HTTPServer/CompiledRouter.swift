import Logging
import Sockets

/// The validated routing tree built from a `Router`; immutable and shared by all event loops.
final class CompiledRouter: Sendable {
    enum Resolution {
        case found(Entry, [String: String])
        case methodNotAllowed([HTTPMethod])
        case notFound
    }

    final class Node: @unchecked Sendable {
        var literals: [Substring: Node] = [:]
        var parameter: Node?
        /// Per method: the route and the names of its `{…}` segments, in order.
        var handlers: [HTTPMethod: (Entry, [String])] = [:]
    }

    /// One route as matched: its handler and what middleware needs to know of it. A class, so a
    /// match copies one reference per request, not the closure and the strings.
    final class Entry: Sendable {
        let handler: HTTPHandler
        let route: MatchedRoute

        init(handler: @escaping HTTPHandler, route: MatchedRoute) {
            self.handler = handler
            self.route = route
        }
    }

    // Built in init, never mutated afterwards.
    private let root = Node()
    /// The nodes of patterns without a parameter, by their whole path: most requests (`POST /tasks`)
    /// resolve with one lookup instead of splitting the path. Matching walks literals first, so a path
    /// found here resolves to the same node the walk would reach.
    private let exact: [String: Node]
    /// The same middleware as the per-request path calls them (nil: none), as a chain of `let`s,
    /// so that each call borrows its middleware instead of retaining it out of an array.
    private let chain: MiddlewareLink?
    /// `chain`, unretained (`chain` holds it): the per-request path reads it with no reference counting.
    private let head: Unmanaged<MiddlewareLink>?

    init(_ router: Router) throws(HTTPServerError) {
        chain = MiddlewareLink.linked(router.middleware)
        head = chain.map { Unmanaged.passUnretained($0) }
        var exact: [String: Node] = [:]
        for (index, route) in router.routes.enumerated() {
            var node = root
            var names: [String] = []
            for segment in try Self.segments(of: route.pattern) {
                if segment.first == "{" {
                    let name = String(segment.dropFirst().dropLast())
                    if names.contains(name) {
                        throw HTTPServerError("route \(route.method) \(route.pattern): parameter {\(name)} appears twice")
                    }
                    names.append(name)
                    if node.parameter == nil { node.parameter = Node() }
                    node = node.parameter!
                } else {
                    if node.literals[segment] == nil { node.literals[segment] = Node() }
                    node = node.literals[segment]!
                }
            }
            if node.handlers[route.method] != nil {
                throw HTTPServerError("duplicate route \(route.method) \(route.pattern)")
            }
            node.handlers[route.method] = (Entry(handler: route.handler,
                                                 route: MatchedRoute(pattern: route.pattern, access: route.access, index: index)), names)
            if names.isEmpty { exact[route.pattern] = node }
        }
        self.exact = exact
    }

    /// The segments of a pattern, checked: absolute, no empty segment, `{name}` whole-segment only.
    static func segments(of pattern: String) throws(HTTPServerError) -> [Substring] {
        guard pattern.first == "/" else { throw HTTPServerError("route pattern \"\(pattern)\" must start with /") }
        if pattern == "/" { return [] }
        let parts = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for part in parts {
            guard !part.isEmpty else { throw HTTPServerError("route pattern \"\(pattern)\" has an empty segment") }
            if part.contains(where: { "?# ".contains($0) || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false }) {
                throw HTTPServerError("route pattern \"\(pattern)\" contains a character not allowed in a path")
            }
            if part.first == "{" {
                let name = part.dropFirst().dropLast()
                guard part.last == "}", let first = name.first, first == "_" || first.isLetter,
                      name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) })
                else { throw HTTPServerError("route pattern \"\(pattern)\": bad parameter segment \"\(part)\"") }
            } else if part.contains("{") || part.contains("}") {
                throw HTTPServerError("route pattern \"\(pattern)\": a parameter must be a whole segment, not \"\(part)\"")
            }
        }
        return parts
    }

    func resolution(_ method: HTTPMethod, _ path: String) -> Resolution {
        guard path.first == "/" else { return .notFound }
        var values: [Substring] = []
        let node: Node
        if let found = exact[path] {
            node = found
        } else {
            let segments = path == "/" ? [] : path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            guard let found = Self.match(root, segments[...], &values) else { return .notFound }
            node = found
        }
        let entry = node.handlers[method] ?? (method == .head ? node.handlers[.get] : nil)
        guard let (handler, names) = entry else {
            var allowed = Array(node.handlers.keys)
            if node.handlers[.get] != nil && node.handlers[.head] == nil { allowed.append(.head) }
            return .methodNotAllowed(allowed.sorted { $0.rawValue < $1.rawValue })
        }
        var parameters: [String: String] = [:]
        for (name, value) in zip(names, values) {
            parameters[name] = PercentDecoding.decode(value.utf8, plusAsSpace: false)
        }
        return .found(handler, parameters)
    }

    /// Depth-first: a literal segment first, then the parameter, backtracking on a dead end.
    private static func match(_ node: Node, _ rest: ArraySlice<Substring>, _ values: inout [Substring]) -> Node? {
        guard let segment = rest.first else { return node.handlers.isEmpty ? nil : node }
        if let next = node.literals[segment], let found = match(next, rest.dropFirst(), &values) { return found }
        if let next = node.parameter, !segment.isEmpty {
            values.append(segment)
            if let found = match(next, rest.dropFirst(), &values) { return found }
            values.removeLast()
        }
        return nil
    }

    /// Routing, the middleware around it, and error mapping: `HTTPError` becomes its problem+json,
    /// anything else a bare 500.
    ///
    /// One async function with one await (the handler's), with or without middleware: each further
    /// async call, and each resumption with work after it, costs an executor switch per request.
    nonisolated(nonsending) func respond(to request: HTTPRequest, logger: Logger?) async -> HTTPResponse {
        let resolution = resolution(request.method, request.path)
        var observed: Observed?
        if let head {
            let route: MatchedRoute
            if case .found(let entry, _) = resolution { route = entry.route } else { route = Self.unmatched }
            let start = MonotonicClock.nanoseconds()
            // Each middleware's `willRespond` until one answers; then `didRespond` of those that ran,
            // innermost first, from the last that ran (a link the router holds, so valid across the await).
            let (last, answer) = head._withUnsafeGuaranteedRef { $0.willRespond(to: request, route: route) }
            let ran = Observed(last: last, route: route, start: start)
            if let answer {
                ran.didRespond(to: request, status: answer.status)
                return answer
            }
            observed = ran
        }
        let response: HTTPResponse
        if case .found(let entry, let parameters) = resolution {
            do {
                // A route without `{…}` segments gets the request as it is; a copy with its parameters
                // is made apart, so that this frame (allocated per request) holds no second request.
                response = parameters.isEmpty ? try await entry.handler(request)
                                              : try await Self.call(entry.handler, request, with: parameters)
            } catch {
                response = Self.failed(request, error, logger: logger)
            }
        } else {
            response = Self.unrouted(request, resolution)
        }
        observed?.didRespond(to: request, status: response.status)
        return response
    }

    // Out of the async function above, whose frame (allocated per request) holds every local it has.

    /// Runs `handler` on a copy of `request` that carries its path parameters.
    @inline(never)
    nonisolated(nonsending) static func call(_ handler: HTTPHandler, _ request: HTTPRequest,
                                             with parameters: [String: String]) async throws -> HTTPResponse {
        var routed = request
        routed.pathParameters = parameters
        return try await handler(routed)
    }

    /// A handler's error as the answer: an `HTTPError`'s problem+json, anything else a bare 500 (logged).
    @inline(never)
    static func failed(_ request: HTTPRequest, _ error: any Error, logger: Logger?) -> HTTPResponse {
        if let error = error as? HTTPError { return error.response }
        logger?.error("handler failed", metadata: [
            "request.id": "\(request.id)", "http.path": "\(request.path)", "error": "\(error)",
        ])
        return HTTPResponse(status: 500)
    }

    /// The answer when no route takes the request: 405 naming the methods allowed, or 404.
    @inline(never)
    static func unrouted(_ request: HTTPRequest, _ resolution: Resolution) -> HTTPResponse {
        if case .methodNotAllowed(let allowed) = resolution {
            var refused = HTTPError(status: 405, detail: "\(request.method) is not allowed on \(request.path)").response
            refused.headers["Allow"] = allowed.map(\.rawValue).joined(separator: ", ")
            return refused
        }
        return HTTPError(status: 404, detail: "no route for \(request.path)").response
    }

    /// The middleware that ran for a request, for their `didRespond`.
    private struct Observed {
        let last: Unmanaged<MiddlewareLink>
        let route: MatchedRoute
        let start: UInt64

        @inline(__always)
        func didRespond(to request: HTTPRequest, status: Int) {
            let elapsed = MonotonicClock.nanoseconds() &- start
            last._withUnsafeGuaranteedRef { $0.didRespond(to: request, route: route, status: status, nanoseconds: elapsed) }
        }
    }

    private static let unmatched = MatchedRoute(pattern: nil, access: .authenticated)
}
