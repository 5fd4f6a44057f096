import Foundation

extension Array where Element: Sendable {
    /// `map` over slices run in parallel, one per core, when there are at least `threshold` elements
    /// (a 1,000-member group's messages are encoded on every core); order is kept.
    public func concurrentMap<T: Sendable>(threshold: Int = 128, _ transform: @escaping @Sendable (Element) -> T) async -> [T] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard count >= threshold, cores > 1 else { return map(transform) }
        let size = (count + cores - 1) / cores
        return await withTaskGroup(of: (Int, [T]).self) { group in
            for start in stride(from: 0, to: count, by: size) {
                let slice = Array(self[start..<Swift.min(start + size, count)])
                // On the global pool: a request's task prefers its event-loop thread, and its children would too.
                group.addTask(executorPreference: globalConcurrentExecutor) { (start, slice.map(transform)) }
            }
            var parts: [(Int, [T])] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }
}
