import Foundation
import RedisClient
import TaskProtocol

/// The task history index (`GET /tasks`): sorted sets of task ids scored by submission time in
/// epoch milliseconds — one of every task (`index:all`), one per task name, queue and worker, and one
/// per rare state (`stateSets`) — written by the scripts that write the task records, in the same
/// atomic step. The common states, PENDING and SUCCESS, have no set (`unsetStates`): most tasks are
/// in one of them, so such a set would be nearly as large as `all` and cost a large-set insert and
/// removal per task; a query for them walks `all` (or another filter's set) and checks each record.
///
/// - A task enters at submission (`enqueue`, `EnqueueOnce`) or, when a producer that is not Celeriac
///   (Python's `delay()`, a group, Beat) published it, when a Celeriac worker fetches it; its score is
///   the first of those times and never changes.
/// - A state change moves it from the set of its old state to the new one (read from the record in
///   the script), so a state set holds exactly the tasks whose record is in that state.
/// - Cheap for the common path: a submit costs one `ZADD NX` on `all` (entering and telling "new" in
///   one call) and one insert per name and queue set; a fetch one insert in the worker's and the
///   STARTED set; a success one removal from STARTED (a small set: the tasks running now).
/// - Bounded: a set a script wrote is trimmed in that script by age (members older than the records'
///   lifetime, Celery's `result_expires`) and by count (`capacity`) on every 128th member and whenever
///   it is over the cap; a call that entered tasks counts only `all`, and trims every set it touched
///   with it (so a write costs one ZCARD, not one per set; a set other than `all` may run over the cap
///   by about 128 members between two trims); a task name's, queue's or worker's set
///   also expires when no write touched it for that lifetime. A reader still checks each record (it
///   may have expired, or an entry may lag its record).
/// - Never in the way: the scripts check only their own keys' types, and the index writes go through
///   `redis.pcall`, so a broken index key leaves tasks out of the history but never fails a submit, a
///   fetch or a result.
public struct TaskIndex: Sendable, Equatable {
    /// Most members a set keeps (the newest); default 1,000,000. A finished task sits in four sets (all,
    /// name, queue, worker; a fifth if it failed or was revoked) at roughly 110 bytes each: about 0.45 GB
    /// of Redis for a million tasks.
    public static let defaultCapacity = 1_000_000
    /// The states a history query filters on; a custom state (PROGRESS…) is kept under STARTED.
    public static let buckets = ["PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED"]
    /// The buckets without a set of their own: the states most tasks are in (see the type's comment).
    public static let unsetStates = ["PENDING", "SUCCESS"]
    /// The buckets with a set of their own, in the order `KeySpace.indexKeys` passes them to the scripts.
    public static let stateSets = buckets.filter { !unsetStates.contains($0) }

    /// The bucket a state is indexed under.
    public static func bucket(_ state: String) -> String { buckets.contains(state) ? state : "STARTED" }

    /// Most members a set keeps.
    public var capacity: Int
    /// Seconds a task stays listed (the records' lifetime); 0 keeps them until the count cap.
    public var lifetime: Int

    /// An index bounded by `lifetime` seconds and `capacity` members.
    public init(lifetime: Int, capacity: Int = TaskIndex.defaultCapacity) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    /// The four ARGV an indexing script ends with: now (ms), the age cutoff (ms, 0 none), the cap, the sets' TTL.
    func arguments(now: Date) -> [RedisArgument] {
        let ms = Int((now.timeIntervalSince1970 * 1000).rounded())
        return [RedisArgument(ms), RedisArgument(lifetime > 0 ? ms - lifetime * 1000 : 0), RedisArgument(capacity),
                RedisArgument(lifetime)]
    }

    /// The same four, written straight into a script call's arguments.
    func write(now: Date, to arguments: inout RESPArguments) {
        let ms = Int((now.timeIntervalSince1970 * 1000).rounded())
        arguments.append(ms)
        arguments.append(lifetime > 0 ? ms - lifetime * 1000 : 0)
        arguments.append(capacity)
        arguments.append(lifetime)
    }

    /// Epoch milliseconds of a date, as the scores are.
    public static func score(_ date: Date) -> Double { (date.timeIntervalSince1970 * 1000).rounded() }
}
