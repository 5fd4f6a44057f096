import CSockets
import Glibc

/// A nonblocking TCP listener (IPv4 or IPv6) that owns its descriptor.
///
/// ```swift
/// let listener = try ListeningSocket.bind(host: "127.0.0.1", port: 0)
/// print(listener.port)          // the port the kernel chose
/// while let peer = try listener.accept() { ... }
/// ```
public final class ListeningSocket: @unchecked Sendable {
    public let fd: Int32
    /// The bound port (the kernel's choice when 0 was asked for).
    public let port: Int
    /// The address as given, with the bound port, e.g. `127.0.0.1:8080` or `[::1]:8080`.
    public let address: SocketAddress
    private var closed = false

    private init(fd: Int32, port: Int, address: SocketAddress) {
        self.fd = fd
        self.port = port
        self.address = address
    }

    deinit { close() }

    /// Binds and listens. With `reusePort`, several listeners (one per event loop) can share the port
    /// and the kernel spreads new connections across them.
    public static func bind(host: String, port: Int, backlog: Int32 = 1024, reusePort: Bool = false) throws -> ListeningSocket {
        let name = "bind(\(SocketAddress.tcp(host: host, port: port)))"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let info = list else {
            throw SocketError(name, code: 0, detail: "cannot resolve host: \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        let fd = try Syscall.run("socket") {
            socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            var one: Int32 = 1
            let size = socklen_t(MemoryLayout<Int32>.size)
            _ = try Syscall.run("setsockopt(SO_REUSEADDR)") { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) }
            if reusePort {
                _ = try Syscall.run("setsockopt(SO_REUSEPORT)") { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) }
            }
            _ = try Syscall.run(name) { Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) }
            _ = try Syscall.run("listen(\(host):\(port))") { Glibc.listen(fd, backlog) }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = try withUnsafeMutablePointer(to: &storage) { ptr in
                try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try Syscall.run("getsockname") { getsockname(fd, sa, &length) }
                }
            }
            let bound = PeerAddress.describe(storage).port
            return ListeningSocket(fd: fd, port: bound, address: .tcp(host: host, port: bound))
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Accepts one pending connection, nonblocking with `TCP_NODELAY` set; nil when none is pending.
    public func accept() throws -> (fd: Int32, peer: String)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try withUnsafeMutablePointer(to: &storage) { ptr in
            try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try Syscall.nonblocking("accept4(\(address))") {
                    accept4(fd, sa, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
        }
        guard case .done(let client) = result else { return nil }
        var one: Int32 = 1
        _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let peer = PeerAddress.describe(storage)
        return (client, peer.description)
    }

    /// Stops listening; connections waiting in the backlog are reset by the kernel.
    public func close() {
        if !closed {
            closed = true
            _ = Glibc.close(fd)
        }
    }
}

/// Turns a socket address into `host:port` text.
enum PeerAddress {
    static func describe(_ storage: sockaddr_storage) -> (host: String, port: Int, description: String) {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { ptr in
                ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
                    let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    let port = Int(UInt16(bigEndian: sin.pointee.sin_port))
                    return (host, port, "\(host):\(port)")
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { ptr in
                ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var addr = sin6.pointee.sin6_addr
                    inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count))
                    let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    let port = Int(UInt16(bigEndian: sin6.pointee.sin6_port))
                    return (host, port, "[\(host)]:\(port)")
                }
            }
        default:
            return ("", 0, "unknown")
        }
    }
}
