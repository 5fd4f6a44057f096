import CSockets
import Glibc

/// A socket address ready for `connect`: what `Connector.resolve` found for a `SocketAddress`.
public struct ResolvedAddress: Sendable {
    let family: Int32
    let storage: [UInt8]
}

/// Nonblocking client connects for sockets that live on an `EventLoop`: start the connect, wait
/// for writability on the loop, then `finish` reads the outcome from SO_ERROR.
public enum Connector {
    /// The addresses to try for `address`, in order. A numeric host or a Unix path never blocks; a
    /// host name goes through `getaddrinfo`, which may (call it off the loop thread).
    public static func resolve(_ address: SocketAddress) throws -> [ResolvedAddress] {
        switch address {
        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                throw SocketError("connect(\(address))", code: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            return [ResolvedAddress(family: AF_UNIX, storage: withUnsafeBytes(of: &addr) { Array($0) })]
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &list)
            guard rc == 0, list != nil else {
                throw SocketError("connect(\(address))", code: 0,
                                  detail: "cannot resolve host: \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(list) }
            var found: [ResolvedAddress] = []
            var cursor = list
            while let info = cursor {
                cursor = info.pointee.ai_next
                let raw = UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen))
                found.append(ResolvedAddress(family: info.pointee.ai_family, storage: Array(raw)))
            }
            return found
        }
    }

    /// True when `host` is an IPv4 or IPv6 literal (resolving it cannot block).
    public static func isNumeric(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Creates a nonblocking socket and starts connecting it; returns the descriptor and whether the
    /// connect already completed (a Unix socket usually does). TCP sockets get TCP_NODELAY.
    public static func start(_ target: ResolvedAddress, name: @autoclosure () -> String) throws -> (fd: Int32, connected: Bool) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try Syscall.run("socket(\(name()))") { socket(target.family, type, 0) }
        if target.family != AF_UNIX {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let rc = target.storage.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if rc == 0 { return (fd, true) }
        let err = errno
        if err == EINPROGRESS || err == EINTR || err == EAGAIN { return (fd, false) }
        _ = Glibc.close(fd)
        throw SocketError("connect(\(name()))", code: err)
    }

    /// After writability: throws the connect's error, if it failed.
    public static func finish(_ fd: Int32, name: @autoclosure () -> String) throws {
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try Syscall.run("getsockopt(\(name()))") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length) }
        if soError != 0 { throw SocketError("connect(\(name()))", code: soError) }
    }
}
