import Foundation
import FuzzSupport
import TaskProtocol

// libFuzzer entry for what a worker does with raw bytes from a queue (`make fuzz`): the bytes are a
// kombu envelope put through decode → validation → the execution plan (expiry, ETA, time limits), the
// timers and dates made from it, and the re-encoding a retry or a hand-back writes. The same bytes are
// also read as a pidbox control request. Checks, beyond "never crashes":
// - a refusal is a `MessageError` naming a field;
// - an accepted message re-encodes to bytes that decode to the same message;
// - a plan's limits are in range, and the dates it yields format.

let now = Date()

func check(_ data: [UInt8]) {
    do {
        let message = try TaskMessage.decode(data)
        let plan = ExecutionPlan(message: message, now: now, defaultSoft: 30, defaultHard: 60)
        for limit in [plan.softLimit, plan.hardLimit] {
            guard let limit else { continue }
            precondition(limit > 0 && limit <= TimeBounds.maxTimeLimit, "limit \(limit) escaped its range")
            _ = TimeBounds.nanoseconds(limit)
        }
        if case .at(let eta) = plan.start { _ = CeleryDate.format(eta) }
        _ = message.expires.map(CeleryDate.format)
        _ = message.retries + 1  // what a retry counts on
        var handedBack = message
        handedBack.markRedelivered()
        for copy in [message, handedBack] {
            let again: TaskMessage
            do { again = try TaskMessage.decode(copy.encoded()) } catch {
                fatalError("a decoded message re-encodes to bytes that do not decode: \(error)")
            }
            precondition(again == copy, "re-encoding changed the message")
        }
    } catch {
        precondition(!error.field.isEmpty && !error.reason.isEmpty, "a refusal must name the field: \(error)")
    }
    if let request = try? CeleryControl.request(from: data) {
        _ = CeleryControl.isAddressed(request, to: "celery@fuzz")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if !FUZZING
@main
enum Replay {
    static func main() { replayFiles(CommandLine.arguments.dropFirst(), check) }
}
#endif
