import Foundation

extension Crontab {
    /// The first instant strictly after `date` that the expression names, nil when none does within
    /// eight years (`0 0 30 2 *`). Days are walked on the proleptic Gregorian calendar; each candidate
    /// wall-clock time is turned into an instant in `timeZone` and kept only if it exists there.
    public func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        guard var year = start.year, var month = start.month, var day = start.day else { return nil }
        for offset in 0..<(8 * 366) {
            if offset > 0 { (year, month, day) = Self.following(year, month, day) }
            guard months.contains(month), matchesDay(year, month, day) else { continue }
            for hour in hours {
                if offset == 0, hour < (start.hour ?? 0) { continue }
                for minute in minutes {
                    if offset == 0, hour == start.hour, minute < (start.minute ?? 0) { continue }
                    let wanted = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute)
                    guard let instant = calendar.date(from: wanted), instant > date else { continue }
                    // A wall-clock time inside a spring-forward gap maps to another hour: skip it.
                    let seen = calendar.dateComponents([.day, .hour, .minute], from: instant)
                    if seen.day == day, seen.hour == hour, seen.minute == minute { return instant }
                }
            }
        }
        return nil
    }

    /// The latest instant the expression names in `(reference, now]`, nil when none: after an outage
    /// only the most recent missed time counts (Celery's catch-up: run once, not once per miss).
    public func latest(after reference: Date, upTo now: Date) -> Date? {
        guard var found = next(after: reference), found <= now else { return nil }
        // Skip far ahead first: a due time within the last day, when there is one, is later than any before.
        if now.timeIntervalSince(found) > 86_400, let recent = next(after: now.addingTimeInterval(-86_400)), recent <= now {
            found = recent
        }
        for _ in 0..<20_000 {
            guard let later = next(after: found), later <= now else { break }
            found = later
        }
        return found
    }

    func matchesDay(_ year: Int, _ month: Int, _ day: Int) -> Bool {
        let dom = days.contains(day)
        let dow = weekdays.contains(Self.weekday(year, month, day))
        if daysRestricted && weekdaysRestricted { return dom || dow }
        return dom && dow
    }

    static func daysIn(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func following(_ year: Int, _ month: Int, _ day: Int) -> (Int, Int, Int) {
        if day < daysIn(year, month) { return (year, month, day + 1) }
        return month == 12 ? (year + 1, 1, 1) : (year, month + 1, 1)
    }

    /// 0 Sunday … 6 Saturday (Sakamoto's method).
    static func weekday(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        return (y + y / 4 - y / 100 + y / 400 + t[month - 1] + day) % 7
    }
}
