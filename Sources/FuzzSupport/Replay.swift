#if canImport(Glibc)
import Glibc
#endif

/// The fuzz targets' `main` when built without libFuzzer: replays each file named on the command line
/// (a crash file from `.build-fuzz/artifacts`, say) through the same checks, so a failure is debuggable.
public func replayFiles(_ paths: some Sequence<String>, _ check: ([UInt8]) -> Void) {
    for path in paths {
        guard let file = fopen(path, "rb") else {
            print("\(path): cannot open")
            continue
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        fclose(file)
        check(bytes)
        print("\(path): ok")
    }
}
