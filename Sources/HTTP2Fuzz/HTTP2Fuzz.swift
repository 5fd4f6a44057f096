import FuzzSupport
import HTTP2
import HTTPServer
import Logging

// libFuzzer entry for the HTTP/2 session (`make fuzz`): arbitrary bytes after a valid preface and SETTINGS,
// fed to a session on a `MemoryTransport` (no socket; handlers on a manual executor). Built with `-D FUZZING`
// and `--sanitize fuzzer` there; otherwise a plain executable that replays input files through the same checks.
//
// The first input byte picks the feeding: its low 7 bits a chunk size (0: all at once), its top bit a peer
// that stops reading half way (backpressure) and reads again at the end. Checks, beyond "never crashes":
// the output is whole frames no larger than the default SETTINGS_MAX_FRAME_SIZE, opening with our SETTINGS;
// a GOAWAY with an error code is the last frame; the transport never held more than the high-water mark,
// one frame and the slack for a fatal error's last frames.

let highWater = 16 * 1024
let maxFrame = 16_384

let router: Router = {
    var router = Router()
    router.add(.get, "/hello") { _ in .text("hello") }
    router.add(.post, "/echo") { request in HTTPResponse(status: 200, body: request.body) }
    router.add(.get, "/big") { _ in .text(String(repeating: "b", count: 100_000)) }
    router.add(.get, "/stream") { _ in
        .streaming { writer in
            for _ in 0..<8 { try await writer.write([UInt8](repeating: 0x73, count: 5000)) }
        }
    }
    return router
}()

let logger: Logger = {
    var logger = Logger(label: "fuzz.http2")
    logger.logLevel = .critical
    return logger
}()

let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]

func check(_ data: [UInt8]) {
    var limits = HTTPServer.Limits()
    limits.maxBodyBytes = 64 * 1024
    let transport = try! MemoryTransport(router: router, limits: limits, logger: logger)
    transport.outputHighWater = highWater
    let session = HTTP2().makeSession(transport: transport)
    var output: [UInt8] = []
    func step(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { session.receive($0) }
        transport.runHandlers()
        output += transport.takeOutput()
    }
    [UInt8]().withUnsafeBytes { session.start(initial: $0) }
    step(preface[...])
    let mode = data.first ?? 0
    let input = data.dropFirst()
    let chunk = Int(mode & 0x7F) == 0 ? max(input.count, 1) : Int(mode & 0x7F)
    var at = input.startIndex
    while at < input.endIndex {
        if mode & 0x80 != 0 && at - input.startIndex >= input.count / 2 { transport.peerReads = false }
        let end = min(at + chunk, input.endIndex)
        step(input[at..<end])
        at = end
    }
    transport.peerReads = true
    transport.flush()
    session.transportWritable()
    transport.runHandlers()
    output += transport.takeOutput()
    let bound = highWater + 32 * 1024 + maxFrame + 9
    precondition(transport.peakPending <= bound, "transport held \(transport.peakPending) bytes (bound \(bound))")
    checkFrames(output)
    session.closed()
    transport.runHandlers()
}

/// The output is whole frames, our SETTINGS first, none over the frame size, nothing after an error GOAWAY.
func checkFrames(_ bytes: [UInt8]) {
    var at = 0
    var index = 0
    var errorGoaway = false
    while at < bytes.count {
        precondition(bytes.count - at >= 9, "a partial frame header at the end of the output")
        let length = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
        let type = bytes[at + 3]
        precondition(length <= maxFrame, "a frame of \(length) bytes")
        precondition(bytes.count - at >= 9 + length, "a partial frame at the end of the output")
        precondition(index > 0 || type == 4, "the first frame is not SETTINGS")
        precondition(!errorGoaway, "a frame of type \(type) after an error GOAWAY")
        if type == 7 && length >= 8 {
            errorGoaway = bytes[at + 13..<at + 17].contains { $0 != 0 }
        }
        at += 9 + length
        index += 1
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
