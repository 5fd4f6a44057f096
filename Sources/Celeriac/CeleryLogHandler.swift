import Foundation
import Logging

/// Celery 5's log line: `[2026-11-25 11:10:15,289: INFO/MainProcess] message`, written to stderr
/// (or stdout) and flushed at once, so logs read the same as a Python worker's.
public struct CeleryLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let processName: String
    private let toStdout: Bool
    private let showMetadata: Bool

    public init(label: String, level: Logger.Level, processName: String = "MainProcess", toStdout: Bool = false,
                showMetadata: Bool = false) {
        self.logLevel = level
        self.processName = processName
        self.toStdout = toStdout
        self.showMetadata = showMetadata
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let name: String
        switch event.level {
        case .trace, .debug: name = "DEBUG"
        case .info, .notice: name = "INFO"
        case .warning: name = "WARNING"
        case .error: name = "ERROR"
        case .critical: name = "CRITICAL"
        }
        var line = "[\(Self.timestamp()): \(name)/\(processName)] \(event.message)"
        // Errors always carry their metadata (the HTTP server puts the failing handler's error there).
        if showMetadata || event.level >= .error {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            if !merged.isEmpty { line += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
        }
        line += "\n"
        // One write per line, so lines from concurrent tasks never interleave.
        let fd = toStdout ? STDOUT_FILENO : STDERR_FILENO
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if errno == EINTR { continue }; break }
            offset += n
        }
    }

    /// `2026-11-25 11:10:15,289` in local time, as Python's logging prints it.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var t = now.tv_sec
        var parts = tm()
        localtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d,%03d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000))
    }
}
