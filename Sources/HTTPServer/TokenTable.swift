/// The accepted tokens laid out for the per-request check: every token zero-padded to
/// `BearerTokens.maximumLength` bytes, side by side in one buffer, with its length and its scopes as
/// bits. Immutable after init and read by every event loop at once; the buffer is raw memory, so a
/// check touches no reference count and allocates nothing.
final class TokenTable: @unchecked Sendable {
    /// 64-bit words per padded token.
    static let words = BearerTokens.maximumLength / 8

    /// The table's memory as plain pointers, valid while the table lives: what the per-request check
    /// reads, with no reference to retain.
    struct Rows: BitwiseCopyable {
        let count: Int
        // count × words: token i's bytes in words [i * words, (i + 1) * words), little-endian, zero-padded.
        fileprivate let padded: UnsafeMutablePointer<UInt64>
        fileprivate let lengths: UnsafeMutablePointer<UInt64>
        fileprivate let scopeBits: UnsafeMutablePointer<UInt8>
    }

    let rows: Rows
    var count: Int { rows.count }

    init(tokens: [(bytes: [UInt8], scopes: Set<String>)]) {
        let count = tokens.count
        let padded = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, count * Self.words))
        padded.initialize(repeating: 0, count: max(1, count * Self.words))
        let lengths = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, count))
        let scopeBits = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, count))
        for (i, token) in tokens.enumerated() {
            precondition(token.bytes.count <= BearerTokens.maximumLength)
            token.bytes.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(padded + i * Self.words).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
            lengths[i] = UInt64(token.bytes.count)
            scopeBits[i] = token.scopes.reduce(0) { $0 | RouteAccess.bit(of: $1) }
        }
        rows = Rows(count: count, padded: padded, lengths: lengths, scopeBits: scopeBits)
    }

    deinit {
        rows.padded.deallocate()
        rows.lengths.deallocate()
        rows.scopeBits.deallocate()
    }

    /// `Rows.match`.
    func match(_ token: UnsafeRawBufferPointer) -> Int { rows.match(token) }

    /// `Rows.scopes`.
    func scopes(_ index: Int) -> UInt8 { rows.scopes(index) }
}

extension TokenTable.Rows {
    /// The index of the entry whose token is `token`, or -1. The token is zero-padded to
    /// `maximumLength` bytes and compared with every entry over all of them (XORs OR-accumulated,
    /// the index picked with a mask, no branch on the data), so the time taken depends only on the
    /// number of entries: not on how much of a token was right, how long the right one is, or which
    /// entry matched. A token longer than `maximumLength` is refused at once (its length is the
    /// sender's own).
    @inline(__always) func match(_ token: UnsafeRawBufferPointer) -> Int {
        guard token.count <= BearerTokens.maximumLength else { return -1 }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: TokenTable.words) { presented in
            presented.initialize(repeating: 0)
            if let base = token.baseAddress {
                UnsafeMutableRawPointer(presented.baseAddress!).copyMemory(from: base, byteCount: token.count)
            }
            let length = UInt64(token.count)
            var found = -1
            for entry in 0..<count {
                let row = padded + entry * TokenTable.words
                var difference = lengths[entry] ^ length
                for word in 0..<TokenTable.words { difference |= row[word] ^ presented[word] }
                // all ones when difference == 0, else zero: (d | -d) has the top bit set iff d != 0.
                let same = Int(bitPattern: UInt(((difference | (0 &- difference)) >> 63) &- 1))
                found = (entry & same) | (found & ~same)
            }
            return found
        }
    }

    /// The scopes of entry `index` as `RouteAccess` bits.
    @inline(__always) func scopes(_ index: Int) -> UInt8 { scopeBits[index] }
}
