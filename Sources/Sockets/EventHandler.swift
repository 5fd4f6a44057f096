/// What a descriptor registered on an `EventLoop` is told about its readiness. Every call comes on
/// the loop's thread; a handler touches its state only there (no locks needed).
public protocol EventHandler: AnyObject {
    /// Readable, or the peer hung up (`hangup`): read until the call would block, or close.
    func readable(hangup: Bool)
    /// The socket takes bytes again (or a nonblocking connect has completed, either way).
    func writable()
    /// The descriptor reported an error (EPOLLERR): the handler must close it.
    func failed()
}
