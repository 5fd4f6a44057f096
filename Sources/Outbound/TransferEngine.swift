import CCurl
import Glibc
import Synchronization

/// The one libcurl multi handle of the process and the thread that drives it.
///
/// Why the multi interface and not `curl_easy_perform` on a thread pool: one thread waits on every
/// transfer at once in `curl_multi_poll` (a real `poll(2)` with curl's own timeout), so a hundred
/// slow requests cost one parked thread and no CPU, and concurrency is bounded by the worker's `-c`,
/// not by a pool size that would have to be guessed. Other threads only queue work and call
/// `curl_multi_wakeup` (the one multi call libcurl allows from any thread); every other curl call on
/// the multi handle and on running easy handles happens on this thread.
final class TransferEngine: @unchecked Sendable {
    /// Started on first use; lives as long as the process.
    static let shared = TransferEngine()

    private struct Inbox {
        var adding: [Transfer] = []
        var cancelling: [Transfer] = []
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())
    /// Easy handle → its transfer. Touched by the engine thread only.
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    private init() {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.multi = multi
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<TransferEngine>.fromOpaque(raw!).takeUnretainedValue().run()
            return nil
        }, context)
        guard rc == 0 else { fatalError("pthread_create(celeriac-curl): \(String(cString: strerror(rc)))") }
        pthread_detach(thread)
    }

    /// Hands a configured transfer to the engine thread; its continuation is resumed there.
    func start(_ transfer: Transfer) {
        inbox.withLock { $0.adding.append(transfer) }
        curl_multi_wakeup(multi)
    }

    /// Stops a transfer early; it completes with `CancellationError` (a no-op once it finished).
    func cancel(_ transfer: Transfer) {
        inbox.withLock { $0.cancelling.append(transfer) }
        curl_multi_wakeup(multi)
    }

    private func run() {
        while true {
            let work = inbox.withLock { inbox -> Inbox in
                defer { inbox = Inbox() }
                return inbox
            }
            for transfer in work.adding {
                let code = curl_multi_add_handle(multi, transfer.easy)
                if code == CURLM_OK {
                    active[transfer.easy] = transfer
                } else {
                    transfer.fail(OutboundError(.other, operation: transfer.operation,
                                                detail: "curl_multi_add_handle: \(String(cString: curl_multi_strerror(code)))"))
                }
            }
            for transfer in work.cancelling where active.removeValue(forKey: transfer.easy) != nil {
                curl_multi_remove_handle(multi, transfer.easy)
                transfer.fail(CancellationError())
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = celeriac_curl_msg_result(message)
                curl_multi_remove_handle(multi, easy)
                active.removeValue(forKey: easy)?.complete(code)
            }
            // Sleeps in poll(2) until a socket is ready, curl's next timer, or a wakeup: no CPU while waiting.
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, active.isEmpty ? 60_000 : 1_000, &ready)
        }
    }
}
