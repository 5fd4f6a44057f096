import CSockets
import Glibc

/// Nonblocking reads and writes on a connected stream descriptor, through `Syscall`.
public enum StreamIO {
    /// Reads what is available; `.done(0)` means the peer closed its side.
    @inlinable
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        try Syscall.nonblocking("read(fd \(fd))") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Sends what the kernel takes now; `MSG_NOSIGNAL` keeps a closed peer from raising SIGPIPE.
    @inlinable
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        try Syscall.nonblocking("send(fd \(fd))") { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Half-closes: the peer reads EOF after the bytes already sent.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes the descriptor; errors are ignored (the descriptor is gone either way on Linux).
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
