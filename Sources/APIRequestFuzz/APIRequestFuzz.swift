import Foundation
import FuzzSupport
import HTTPServer
import TaskAPI
import TaskProtocol

// libFuzzer entry for the API's request validation, with no Redis (`make fuzz`): the first byte picks
// the handler. Even: the rest is a `POST /tasks` body, with an `Idempotency-Key` before the first
// newline when there is one. Odd: the rest is `<id>?<query>` of `GET /tasks/{id}`, parsed by the real
// HTTP parser. Checks, beyond "never crashes":
// - a refusal is a 400/415/422 `HTTPError` that names a field;
// - whatever is accepted becomes a message that a worker decodes, plans and formats without a trap.

let now = Date()

func checkSubmit(_ bytes: ArraySlice<UInt8>) {
    var headers: HTTPHeaders = ["Content-Type": "application/json"]
    var body = bytes
    if let newline = bytes.firstIndex(of: 0x0A) {
        headers.add(name: "Idempotency-Key", value: String(decoding: bytes[..<newline], as: UTF8.self))
        body = bytes[(newline + 1)...]
    }
    let request = HTTPRequest(method: .post, path: "/tasks", headers: headers, body: Array(body))
    do {
        let submission = try Submission(request, now: now)
        let message = TaskMessage.make(task: submission.task, args: submission.args, kwargs: submission.kwargs,
                                       options: submission.options)
        let decoded: TaskMessage
        do { decoded = try TaskMessage.decode(message.encoded()) } catch {
            fatalError("the API accepted a message no worker can decode: \(error)")
        }
        precondition(decoded == message, "the message changed on its way through Redis")
        let plan = ExecutionPlan(message: decoded, now: now)
        if case .at(let eta) = plan.start { _ = CeleryDate.format(eta) }
        _ = decoded.expires.map(CeleryDate.format)
    } catch let error as HTTPError {
        requireFieldError(error)
    } catch {
        fatalError("not an HTTPError: \(error)")
    }
}

func checkStatus(_ bytes: ArraySlice<UInt8>) {
    var parser = HTTPParser(limits: .init(maxHeaderBytes: 4096, maxHeaderCount: 8, maxBodyBytes: 0))
    parser.feed((Array("GET /tasks/".utf8) + bytes + Array(" HTTP/1.1\r\nHost: f\r\n\r\n".utf8))[...])
    guard case .request(var request)? = try? parser.next() else { return }
    // What the router hands the handler: the segment after /tasks/, percent-decoded.
    let segment = request.path.dropFirst("/tasks/".count)
    request.pathParameters["id"] = String(segment).removingPercentEncoding ?? String(segment)
    do {
        _ = try TaskAPI.taskID(request)
        let wait = try TaskAPI.waitSeconds(request, max: 60)
        precondition(TimeBounds.isDelay(wait, atMost: 60), "wait \(wait) escaped its range")
        _ = TimeBounds.nanoseconds(wait)
    } catch let error as HTTPError {
        requireFieldError(error)
    } catch {
        fatalError("not an HTTPError: \(error)")
    }
}

func requireFieldError(_ error: HTTPError) {
    precondition([400, 415, 422].contains(error.status), "unexpected status \(error.status): \(error)")
    precondition(error.field?.isEmpty == false, "a refusal must name the field: \(error)")
}

func check(_ data: [UInt8]) {
    guard let mode = data.first else { return }
    if mode % 2 == 0 { checkSubmit(data.dropFirst()) } else { checkStatus(data.dropFirst()) }
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
