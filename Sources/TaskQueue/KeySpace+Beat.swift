/// The keys of periodic tasks (`celeriac beat`): definitions, last ticks, the leader lease.
extension KeySpace {
    /// Hash schedule name → its definition as JSON (written by the app at start-up and by the API).
    public var schedules: String { prefix + "schedules" }
    /// Hash schedule name → due time (Unix seconds) of the last tick published for it.
    public var scheduleLastTicks: String { prefix + "schedules:last" }
    /// String `<fence>:<owner>` of the beat that leads; expires unless renewed.
    public var beatLease: String { prefix + "beat:lease" }
    /// Counter incremented at every new leadership: the fence part of the lease token.
    public var beatFence: String { prefix + "beat:fence" }
    /// The claim of one tick (schedule + due time): the id of the task it published.
    public func tick(_ id: String) -> String { prefix + "tick:" + id }
}
