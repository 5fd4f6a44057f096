import CSockets
import Glibc

/// Where a client connects: a TCP host and port, or a Unix-domain socket path.
public enum SocketAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// A connected stream socket in blocking mode, with deadlines enforced by `poll`.
///
/// It owns its descriptor and closes it in `deinit` (house style, guideline 5). It is not
/// thread-safe by itself: one thread uses it (the SMTP example, test clients). Sockets that live on
/// the event loop use `Connector` instead.
public final class ClientSocket: @unchecked Sendable {
    public let address: SocketAddress
    public let fd: Int32
    private var closed = false

    private init(fd: Int32, address: SocketAddress) {
        self.fd = fd
        self.address = address
    }

    deinit { if !closed { _ = Glibc.close(fd) } }

    /// Connects within `timeout` seconds; the error names the address.
    public static func connect(to address: SocketAddress, timeout: Double) throws -> ClientSocket {
        switch address {
        case .unix(let path):
            let fd = try Syscall.run("socket(AF_UNIX)") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                _ = Glibc.close(fd)
                throw SocketError("connect(\(address))", code: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let sock = ClientSocket(fd: fd, address: address)
            try sock.connectWithTimeout(&addr, timeout: timeout)
            return sock
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &list)
            guard rc == 0, let first = list else {
                throw SocketError("connect(\(address))", code: 0,
                                  detail: "cannot resolve host: \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(list) }
            var lastError: any Error = SocketError("connect(\(address))", code: ECONNREFUSED)
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor {
                cursor = info.pointee.ai_next
                guard let fd = try? Syscall.run("socket", { socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol) }) else { continue }
                let sock = ClientSocket(fd: fd, address: address)
                do {
                    try sock.connectRaw(info.pointee.ai_addr, length: info.pointee.ai_addrlen, timeout: timeout)
                    var one: Int32 = 1
                    _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return sock
                } catch {
                    lastError = error
                }
            }
            throw lastError
        }
    }

    private func connectWithTimeout(_ addr: inout sockaddr_un, timeout: Double) throws {
        let len = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result: Result<Void, any Error> = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                do { try connectRaw(sa, length: len, timeout: timeout); return .success(()) }
                catch { return .failure(error) }
            }
        }
        try result.get()
    }

    private func connectRaw(_ addr: UnsafePointer<sockaddr>, length: socklen_t, timeout: Double) throws {
        let name = "connect(\(address))"
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let rc = Glibc.connect(fd, addr, length)
        if rc != 0 {
            let err = errno
            guard err == EINPROGRESS || err == EINTR || err == EAGAIN else { throw SocketError(name, code: err) }
            guard try waitFor(events: Int16(POLLOUT), timeout: timeout, operation: name) else {
                throw SocketError(name, code: ETIMEDOUT, detail: "timed out after \(timeout)s")
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError != 0 { throw SocketError(name, code: soError) }
        }
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
    }

    /// Waits until the socket is ready for `events`; false on timeout. A negative timeout waits forever.
    public func waitFor(events: Int16, timeout: Double, operation: String) throws -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        let ms: Int32 = timeout < 0 ? -1 : Int32(min(timeout * 1000, Double(Int32.max)))
        let n = try Syscall.run("poll(\(operation))") { poll(&pfd, 1, ms) }
        return n > 0
    }

    /// Writes every byte or throws; `MSG_NOSIGNAL` keeps a closed peer from raising SIGPIPE.
    public func sendAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try Syscall.run("send(\(address))") {
                send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            offset += n
        }
    }

    /// Writes every byte of `bytes`.
    public func sendAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in try sendAll(raw) }
    }

    /// Reads what is available (blocking until something is); 0 means the peer closed.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try Syscall.run("recv(\(address))") { recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// Shuts the socket down so a thread blocked in `receive` wakes up; the descriptor stays owned.
    public func shutdown() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}
