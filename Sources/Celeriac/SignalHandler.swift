import Foundation
import Glibc

/// The write end of the self-pipe: the only thing the C-level handler touches (write(2) is
/// async-signal-safe).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1
/// The pipe's reader, kept for the life of the process.
nonisolated(unsafe) private var signalReader: (any DispatchSourceRead)?

/// SIGINT, SIGTERM and SIGQUIT, handled from the first instruction of a command: a C handler installed
/// synchronously writes the signal's number to a pipe, and a Dispatch read source on the pipe hands each
/// to `handle`, in order, without a thread of its own. Nothing is ignored or lost in between (a Dispatch
/// *signal* source starts listening some time after it is created, and its `SIG_IGN` drops what comes in
/// that gap; the pipe keeps what comes before its reader runs). SIGINT and SIGTERM are counted together.
/// SIGHUP goes to `onHangup` (re-read configuration), and only when one is given: otherwise it keeps
/// its default action.
final class SignalHandler: Sendable {
    private let count = Protected(0)

    /// `handle(signal, count)`: the count of SIGINT/SIGTERM so far (SIGQUIT does not count).
    init(onHangup: (@Sendable () -> Void)? = nil, _ handle: @escaping @Sendable (_ signal: Int32, _ count: Int) -> Void) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { fatalError("pipe: \(String(cString: strerror(errno)))") }
        signalPipeWriteEnd = fds[1]
        for number in [SIGINT, SIGTERM, SIGQUIT] + (onHangup == nil ? [] : [SIGHUP]) {
            signal(number) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
        }
        // The read end is watched by a Dispatch read source, not a thread of its own: Dispatch's manager
        // thread (which every process has) polls it, and one serial queue runs the handler, in order.
        let readEnd = fds[0]
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        let source = DispatchSource.makeReadSource(fileDescriptor: readEnd, queue: DispatchQueue(label: "signals"))
        source.setEventHandler { [count] in
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n == 1 {
                    let number = Int32(byte)
                    if number == SIGHUP {
                        onHangup?()
                        continue
                    }
                    let seen = number == SIGQUIT ? count.withLock { $0 } : count.withLock { $0 += 1; return $0 }
                    handle(number, seen)
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
        signalReader = source
        source.resume()
    }
}
