/// Comparison whose running time does not depend on where two secrets differ.
public enum ConstantTime {
    /// True when `a` and `b` hold the same elements (bytes, or 64-bit words of bytes). Every element
    /// of both is read, whatever the first difference: the XOR of each pair is OR-accumulated and
    /// looked at once, at the end. Only the lengths may leak (compare zero-padded, fixed-length
    /// buffers to hide those too).
    public static func equal<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
        where A.Element: FixedWidthInteger, B.Element == A.Element
    {
        var difference: A.Element = a.count == b.count ? 0 : 1
        var i = a.startIndex
        var j = b.startIndex
        while i != a.endIndex || j != b.endIndex {
            let x: A.Element = i != a.endIndex ? a[i] : 0
            let y: A.Element = j != b.endIndex ? b[j] : 0
            difference |= x ^ y
            if i != a.endIndex { i = a.index(after: i) }
            if j != b.endIndex { j = b.index(after: j) }
        }
        return difference == 0
    }
}
