import Foundation
import Glibc

/// A real `redis-server` on a free loopback port, started for one test or suite and stopped in `stop()`/`deinit`.
///
/// ```swift
/// let redis = try RedisServer.start()
/// defer { redis.stop() }
/// let url = redis.url   // "redis://127.0.0.1:<port>/0"
/// ```
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private let process: ChildProcess

    /// The URL a client uses to reach this server.
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    private init(port: Int, directory: URL, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    deinit { stop() }

    /// Starts a server and waits until it answers PING; throws a clear error if it cannot.
    public static func start(extraArguments: [String] = [], timeout: Double = 10, onPort fixedPort: Int? = nil) throws -> RedisServer {
        guard let binary = which("redis-server") else {
            throw TestSupportError("redis-server not found on PATH: install it (make test does: apt-get install -y redis-server)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("celeriac-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var lastError = "no attempt"
        for _ in 0..<5 {
            let port = try fixedPort ?? freePort()
            let process = try ChildProcess.spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "",
                                                          "--appendonly", "no", "--dir", dir.path, "--daemonize", "no",
                                                          "--loglevel", "warning", "--logfile", dir.appendingPathComponent("redis.log").path]
                                                 + extraArguments)
            let server = RedisServer(port: port, directory: dir, process: process)
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if !process.isRunning { break }
                if ping(port: port) { return server }
                // Short steps: this blocks a thread of the test run's small cooperative pool, and every test
                // starts its servers at once (a refused connect costs microseconds; the server is up in ~10 ms).
                usleep(2_000)
            }
            lastError = (try? String(contentsOf: dir.appendingPathComponent("redis.log"), encoding: .utf8)) ?? "no log"
            server.stop()
        }
        throw TestSupportError("could not start redis-server on a free port: \(lastError)")
    }

    /// Stops the server (SIGKILL: tests never need its data afterwards) and reaps it.
    public func stop() { process.killAndReap() }

    /// Pauses the server (SIGSTOP) so clients see a hung peer; `resume()` undoes it.
    public func pause() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }

    private static func ping(port: Int) -> Bool {
        guard let reply = try? rawCommand(port: port, "PING\r\n") else { return false }
        return reply.hasPrefix("+PONG") || reply.hasPrefix("-NOAUTH")
    }
}

/// Sends one inline command to a Redis on 127.0.0.1 and returns the first reply chunk (for harness checks).
public func rawCommand(port: Int, _ text: String) throws -> String {
    let fd = try connectLoopback(port: port, receiveTimeout: 2)
    defer { close(fd) }
    _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var buffer = [UInt8](repeating: 0, count: 65536)
    let n = recv(fd, &buffer, buffer.count, 0)
    guard n > 0 else { throw TestSupportError("no reply from 127.0.0.1:\(port)") }
    return String(decoding: buffer[0..<n], as: UTF8.self)
}

/// A blocking TCP socket connected to 127.0.0.1:`port`, with a receive timeout; the caller closes it.
func connectLoopback(port: Int, receiveTimeout: Double) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket: errno \(errno)") }
    var tv = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - receiveTimeout.rounded(.down)) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        let code = errno
        close(fd)
        throw TestSupportError("connect 127.0.0.1:\(port): errno \(code)")
    }
    return fd
}

/// A TCP port that was free a moment ago (bind to port 0, read it back, close).
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw TestSupportError("bind port 0: errno \(errno)") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// The full path of an executable on PATH, or nil.
public func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let dirs: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/bin"]
    for dir in dirs {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// A harness failure with a sentence saying what could not be done.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
