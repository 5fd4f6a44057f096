/// Many records with the same fields, laid out as a script writes them: the pairs every record
/// shares, once, then each record's values of the other fields (its columns). A group's members share
/// their state, name, queue, submission time, retries and group, so each PENDING record costs the
/// script two arguments (args and kwargs) instead of sixteen — and Redis one Lua string each.
struct RecordTable: Sendable {
    /// Field/value pairs written into every record of the table.
    var shared: [(TaskRecord.Field, String)] = []
    /// The fields whose values differ from record to record, in the order each row gives them.
    var columns: [TaskRecord.Field] = []
    /// Each record's key and its values of `columns`.
    var rows: [(key: String, values: [String])] = []

    /// `records` as a table of those with the first record's fields (in its order) and, as `rest`,
    /// any record whose fields differ (written whole, pairs and all). Order is kept within each.
    static func split(_ records: [(key: String, pairs: [(TaskRecord.Field, String)])])
        -> (table: RecordTable, rest: [(key: String, pairs: [(TaskRecord.Field, String)])]) {
        guard let first = records.first?.pairs else { return (RecordTable(), []) }
        var fitting: [(key: String, pairs: [(TaskRecord.Field, String)])] = []
        var rest: [(key: String, pairs: [(TaskRecord.Field, String)])] = []
        fitting.reserveCapacity(records.count)
        for record in records {
            if record.pairs.count == first.count && zip(record.pairs, first).allSatisfy({ $0.0 == $1.0 }) {
                fitting.append(record)
            } else {
                rest.append(record)
            }
        }
        // A field is shared when every fitting record has the first one's value for it.
        let isShared = first.indices.map { i in fitting.allSatisfy { $0.pairs[i].1 == first[i].1 } }
        var table = RecordTable()
        for i in first.indices {
            if isShared[i] { table.shared.append(first[i]) } else { table.columns.append(first[i].0) }
        }
        let varying = first.indices.filter { !isShared[$0] }
        table.rows = fitting.map { record in (key: record.key, values: varying.map { record.pairs[$0].1 }) }
        return (table, rest)
    }
}
