import FuzzSupport
import HTTPServer
#if canImport(Glibc)
import Glibc
#endif

// libFuzzer entry for the request parser (`make fuzz`). Built with `-D FUZZING` and
// `--sanitize fuzzer` there; otherwise this is a plain executable that replays input files
// (`HTTPParserFuzz crash-…`) through the same checks.
//
// Checks, beyond "never crashes": the same bytes fed whole and split (at a point taken from the
// input, and byte by byte for short inputs) give the same requests and the same error status.

/// A parse outcome that can be compared across feeding strategies.
struct Outcome: Equatable {
    var requests: [String] = []
    var errorStatus: Int?
}

func parse(_ chunks: [ArraySlice<UInt8>]) -> Outcome {
    var parser = HTTPParser(limits: .init(maxHeaderBytes: 2048, maxHeaderCount: 20, maxBodyBytes: 4096))
    var outcome = Outcome()
    outer: for chunk in chunks {
        parser.feed(chunk)
        while true {
            do {
                guard let event = try parser.next() else { break }
                if case .request(let r) = event {
                    outcome.requests.append("\(r.method) \(r.path) \(r.query.sorted { $0.key < $1.key }) \(r.headers.count) \(r.body)")
                }
            } catch {
                outcome.errorStatus = error.status
                precondition((400...505).contains(error.status), "unexpected status \(error.status)")
                break outer
            }
        }
    }
    return outcome
}

func check(_ data: [UInt8]) {
    let whole = parse([data[...]])
    if data.count > 1 {
        let cut = Int(data[0]) % data.count
        let split = parse([data[..<cut], data[cut...]])
        precondition(split == whole, "split at \(cut) differs: \(split) vs \(whole)")
    }
    if data.count <= 256 {
        let bytewise = parse(data.indices.map { data[$0...$0] })
        precondition(bytewise == whole, "byte-by-byte differs: \(bytewise) vs \(whole)")
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
