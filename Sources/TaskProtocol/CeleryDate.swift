import Foundation

/// Celery's timestamps: Python `datetime.isoformat()` of an aware UTC time, e.g.
/// `2026-11-25T11:12:20.923179+00:00`. Parsing also takes a `Z` suffix, other offsets and naive
/// strings (read as UTC, as Celery does with its default `timezone`).
public enum CeleryDate {
    /// Formats `date` with microseconds and `+00:00`.
    /// Never traps: a date outside years 1 to 9999 (or NaN) is written as the nearest end of that range.
    public static func format(_ date: Date) -> String {
        let raw = date.timeIntervalSince1970
        let seconds = raw.isNaN ? 0 : min(max(raw, earliest), latest)
        var whole = Int(seconds.rounded(.down))
        var micros = Int(((seconds - Double(whole)) * 1_000_000).rounded())
        if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
        // The proleptic Gregorian calendar gmtime uses, without its call (days → civil, H. Hinnant's algorithm).
        let days = whole >= 0 ? whole / 86_400 : (whole - 86_399) / 86_400
        let secondOfDay = whole - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        // 2026-11-25T11:12:20.923179+00:00: 32 ASCII bytes.
        return String(unsafeUninitializedCapacity: 32) { out in
            func put(_ value: Int, _ width: Int, at end: Int) {
                var v = value
                for k in stride(from: end - 1, through: end - width, by: -1) { out[k] = UInt8(48 + v % 10); v /= 10 }
            }
            put(year, 4, at: 4); out[4] = UInt8(ascii: "-")
            put(month, 2, at: 7); out[7] = UInt8(ascii: "-")
            put(day, 2, at: 10); out[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, 2, at: 13); out[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, 2, at: 16); out[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, 2, at: 19); out[19] = UInt8(ascii: ".")
            put(micros, 6, at: 26)
            for (k, c) in "+00:00".utf8.enumerated() { out[26 + k] = c }
            return 32
        }
    }

    /// 0001-01-01T00:00:00 and 9999-12-31T23:59:59, the range Python's datetime can hold.
    static let earliest: Double = -62_135_596_800
    static let latest: Double = 253_402_300_799

    /// Parses an ISO-8601 date-time; nil when it is not one.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= b.count else { return nil }
            var v = 0
            for k in 0..<width {
                let c = b[i + k]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += width
            return v
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2) else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") {
            i += 1
            guard let h = number(2), expect(":"), let m = number(2) else { return nil }
            hour = h; minute = m
            if expect(":") {
                guard let s = number(2) else { return nil }
                second = s
                if expect(".") {
                    var scale = 0.1
                    var digits = 0
                    while i < b.count, b[i] >= 48, b[i] <= 57 {
                        fraction += Double(b[i] - 48) * scale
                        scale /= 10
                        i += 1
                        digits += 1
                    }
                    guard digits > 0 else { return nil }
                }
            }
        }
        var offset = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                _ = expect(":")
                let om = number(2) ?? 0
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        guard i == b.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch - offset) + fraction)
    }
}
