import ArgumentParser
import Foundation

/// Environment fallbacks for flags (flags win, then the environment, then the default), each read
/// once at validation, so a bad value is a clear error naming the variable.
enum Environment {
    static func fill<T: LosslessStringConvertible>(_ value: inout T?, _ name: String) throws {
        guard value == nil, let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return }
        guard let parsed = T(text) else {
            throw ValidationError("\(name)='\(text)' is not a valid \(T.self == String.self ? "value" : "\(T.self)".lowercased())")
        }
        value = parsed
    }

    /// A switch flag: set by the flag, or by `1`/`true`/`yes`/`on` in the environment.
    static func flag(_ flag: Bool, _ name: String) -> Bool {
        flag || ["1", "true", "yes", "on"].contains(ProcessInfo.processInfo.environment[name]?.lowercased() ?? "")
    }

    /// A numeric flag (or its variable) must lie in `range`: checked before it becomes a count, a
    /// duration or a timer, so that `--grace 1e300` is an error naming the flag, not a trap later.
    static func check<T: Comparable & CustomStringConvertible>(_ value: T?, _ range: ClosedRange<T>, _ flag: String) throws {
        guard let value else { return }
        if let number = value as? Double, !number.isFinite {
            throw ValidationError("\(flag) must be a finite number from \(range.lowerBound) to \(range.upperBound), not \(value)")
        }
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be from \(range.lowerBound) to \(range.upperBound), not \(value)")
        }
    }
}
