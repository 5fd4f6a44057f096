extension RequestMetrics {
    /// Appends the latency histograms of every `RequestMetrics` made, in the Prometheus text format
    /// exactly as swift-prometheus writes a timer's (`# TYPE`, cumulative `_bucket` lines with `le`
    /// in seconds, `+Inf`, `_sum`, `_count`): one family per prefix, one series per route and method,
    /// summed over event loops and statuses. Call `flushAll()` first for the counters that go with it.
    public static func emitAll(into buffer: inout [UInt8]) {
        var families: [Family] = []
        for metrics in instances.withLock({ $0 }) {
            let cells = metrics.shards.withLock { $0.cells }
            guard !cells.isEmpty else { continue }
            var family: Int
            if let found = families.firstIndex(where: { $0.prefix == metrics.prefix }) {
                family = found
            } else {
                families.append(Family(prefix: metrics.prefix, bounds: metrics.bounds))
                family = families.count - 1
            }
            // Instances sharing a prefix must share buckets (as in one swift-prometheus family).
            guard families[family].bounds == metrics.bounds else { continue }
            for cell in cells { families[family].add(cell) }
        }
        for family in families { family.emit(into: &buffer) }
    }

    /// One metric family: its series in the order first seen.
    private struct Family {
        struct Series {
            var labels: [UInt8]
            var buckets: [Int]
            var sum: Int
        }

        let prefix: String
        let bounds: [Int64]
        var series: [Series] = []
        var byLabels: [[UInt8]: Int] = [:]

        init(prefix: String, bounds: [Int64]) {
            self.prefix = prefix
            self.bounds = bounds
        }

        mutating func add(_ cell: RequestMetricsCache.Cell) {
            var labels = Array(#"route=""#.utf8)
            labels.appendEscapedLabelValue(cell.route ?? "unmatched")
            labels += Array(#"",method=""#.utf8)
            labels.appendEscapedLabelValue(cell.method.rawValue)
            labels.append(UInt8(ascii: "\""))
            let (buckets, sum) = cell.snapshot()
            if let index = byLabels[labels] {
                for bucket in buckets.indices { series[index].buckets[bucket] += buckets[bucket] }
                series[index].sum += sum
            } else {
                byLabels[labels] = series.count
                series.append(Series(labels: labels, buckets: buckets, sum: sum))
            }
        }

        func emit(into buffer: inout [UInt8]) {
            guard !series.isEmpty else { return }
            let name = Array((prefix + "_request_duration_seconds").utf8)
            buffer += Array("# TYPE ".utf8) + name + Array(" histogram\n".utf8)
            for one in series {
                var cumulative = 0
                for (bucket, bound) in bounds.enumerated() {
                    cumulative += one.buckets[bucket]
                    buffer += name + Array("_bucket{".utf8) + one.labels + Array(",le=\"\(seconds(Int(bound)))\"} \(cumulative)\n".utf8)
                }
                let count = cumulative + one.buckets[bounds.count]
                buffer += name + Array("_bucket{".utf8) + one.labels + Array(",le=\"+Inf\"} \(count)\n".utf8)
                buffer += name + Array("_sum{".utf8) + one.labels + Array("} \(seconds(one.sum))\n".utf8)
                buffer += name + Array("_count{".utf8) + one.labels + Array("} \(count)\n".utf8)
            }
        }
    }

    /// Nanoseconds as swift-prometheus writes a `Duration`: whole seconds, a dot, the fraction
    /// without trailing zeros (`0.005`, `2.5`, `1.0`).
    static func seconds(_ nanoseconds: Int) -> String {
        let whole = nanoseconds / 1_000_000_000
        var fraction = nanoseconds % 1_000_000_000
        guard fraction != 0 else { return "\(whole).0" }
        var digits = 9
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }
}

extension [UInt8] {
    /// A label value escaped as the text format requires (backslash, double quote, line feed).
    fileprivate mutating func appendEscapedLabelValue(_ value: String) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): append(contentsOf: #"\n"#.utf8)
            default: append(byte)
            }
        }
    }
}
