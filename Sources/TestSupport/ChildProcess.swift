import Foundation
import Glibc

/// A child process started with `posix_spawn` and reaped with `waitpid`, for the servers and binaries the
/// tests run. Not Foundation's `Process`: its `waitUntilExit` spins a run loop on the calling thread, and
/// its exit notice needs a dispatch thread, so a few stops at once on the test run's two pool threads
/// spun both cores and never saw their children exit.
public final class ChildProcess: @unchecked Sendable {
    /// The child's process id, for signals and `/proc`.
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `executable` with `arguments`; its output goes to /dev/null. `environment` nil keeps ours.
    public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings([executable] + arguments) { argv in
            withCStrings(env) { envp in posix_spawn(&pid, executable, &actions, nil, argv, envp) }
        }
        guard rc == 0 else { throw TestSupportError("posix_spawn \(executable): \(String(cString: strerror(rc)))") }
        return ChildProcess(pid: pid)
    }

    /// False once the child has exited (and been reaped here).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Sends `signal` to a child that still runs.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// SIGKILL, then reaps it: the wait is the kernel's, microseconds, so a `defer` or `deinit` may call it.
    public func killAndReap() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        _ = reap(blocking: true)
    }

    /// Waits for the child to exit by itself, without holding a thread; its exit status (or the signal's number + 128).
    @discardableResult
    public func exit() async -> Int32 {
        while true {
            if let status = reap(blocking: false) { return status }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
    }

    private func reap(blocking: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, blocking ? 0 : WNOHANG)
        guard rc == pid else { return rc < 0 && errno == ECHILD ? -1 : nil }
        let signalled = status & 0x7f
        exitStatus = signalled == 0 ? (status >> 8) & 0xff : 128 + signalled
        return exitStatus
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`, valid only during the call.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
