import TaskProtocol

extension KeySpace {
    /// Sorted set of every indexed task id, scored by submission (or first sight) in epoch milliseconds.
    public var taskIndex: String { indexKeys[0] }
    /// The ids whose record is in `state` (custom states such as PROGRESS count as STARTED), same scores;
    /// nil for PENDING and SUCCESS, which have no set (`TaskIndex.unsetStates`).
    public func stateIndex(_ state: String) -> String? {
        let bucket = TaskIndex.bucket(state)
        return TaskIndex.unsetStates.contains(bucket) ? nil : prefix + "index:state:" + bucket
    }
    /// The ids of a task name, same scores.
    public func taskNameIndex(_ name: String) -> String { prefix + "index:task:" + name }
    /// The ids submitted to (or fetched from) a queue, same scores.
    public func queueIndex(_ queue: String) -> String { prefix + "index:queue:" + queue }
    /// The ids a worker received, same scores.
    public func workerIndex(_ worker: String) -> String { prefix + "index:worker:" + worker }
    /// Hash `succeeded`/`failed` → tasks finished in the minute starting at `minute` (epoch seconds / 60).
    public func throughput(minute: Int) -> String { prefix + "throughput:" + String(minute) }
    /// The fixed index keys under `prefix` (see `indexKeys`).
    static func indexKeys(prefix: String) -> [String] {
        [prefix + "index:all"] + TaskIndex.stateSets.map { prefix + "index:state:" + $0 }
    }
}
