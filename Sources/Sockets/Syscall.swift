import Glibc

/// What a nonblocking system call did when it did not fail outright.
public enum IOResult<Value: Sendable>: Sendable {
    case done(Value)
    case wouldBlock
}

/// Every system call of the project goes through here (house style, guideline 4):
/// EINTR is retried, EAGAIN/EWOULDBLOCK become `.wouldBlock`, anything else throws a
/// `SocketError` naming the call.
public enum Syscall {
    /// Runs `body` until it stops failing with EINTR; throws for any other negative result.
    @inlinable
    public static func run<T: BinaryInteger>(_ name: @autoclosure () -> String,
                                             _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let err = errno
            if err == EINTR { continue }
            throw SocketError(name(), code: err)
        }
    }

    /// Like `run`, but EAGAIN/EWOULDBLOCK/EINPROGRESS is reported as `.wouldBlock` instead of thrown.
    @inlinable
    public static func nonblocking<T: BinaryInteger & Sendable>(_ name: @autoclosure () -> String,
                                                                _ body: () -> T) throws -> IOResult<T> {
        while true {
            let result = body()
            if result >= 0 { return .done(result) }
            let err = errno
            if err == EINTR { continue }
            if err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS { return .wouldBlock }
            throw SocketError(name(), code: err)
        }
    }
}
