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
}
