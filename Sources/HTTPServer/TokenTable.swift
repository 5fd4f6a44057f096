/// The accepted tokens laid out for the per-request check: every token zero-padded to the table's
/// width (its longest token's length rounded up to whole words), side by side in one buffer, with its length and its scopes as
/// bits. Immutable after init and read by every event loop at once; the buffer is raw memory, so a
/// check touches no reference count and allocates nothing.
final class TokenTable: @unchecked Sendable {

    /// The table's memory as plain pointers, valid while the table lives: what the per-request check
    /// reads, with no reference to retain.
    struct Rows: BitwiseCopyable {
        let count: Int
        /// 64-bit words per padded token: the longest token's, so a check reads no more than it must.
        let words: Int
        // count × words: token i's bytes in words [i * words, (i + 1) * words), as `pad` lays them out.
        fileprivate let padded: UnsafeMutablePointer<UInt64>
        fileprivate let lengths: UnsafeMutablePointer<UInt64>
        fileprivate let scopeBits: UnsafeMutablePointer<UInt8>
    }

    let rows: Rows
    var count: Int { rows.count }

    init(tokens: [(bytes: [UInt8], scopes: Set<String>)]) {
        let count = tokens.count
        let words = max(1, ((tokens.map(\.bytes.count).max() ?? 0) + 7) / 8)
        let padded = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, count * words))
        padded.initialize(repeating: 0, count: max(1, count * words))
        let lengths = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, count))
        let scopeBits = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, count))
        for (i, token) in tokens.enumerated() {
            precondition(token.bytes.count <= BearerTokens.maximumLength)
            token.bytes.withUnsafeBytes { bytes in
                Rows.pad(bytes, into: UnsafeMutableBufferPointer(start: padded + i * words, count: words))
            }
            lengths[i] = UInt64(token.bytes.count)
            scopeBits[i] = token.scopes.reduce(0) { $0 | RouteAccess.bit(of: $1) }
        }
        rows = Rows(count: count, words: words, padded: padded, lengths: lengths, scopeBits: scopeBits)
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
    /// The index of the entry whose token is `token`, or -1. The token is zero-padded to the
    /// table's width and compared with every entry over all of it (XORs OR-accumulated, the index
    /// picked with a mask, no branch on the data), so the time taken depends only on the number of
    /// entries and the width, both fixed by the tokens file: not on how much of a token was right,
    /// how long the right one is, or which entry matched. A token longer than the width is refused at
    /// once (its length is the sender's own; the width tells no more than the longest token's length).
    @inline(__always) func match(_ token: UnsafeRawBufferPointer) -> Int {
        guard token.count <= words &* 8 else { return -1 }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { presented in
            Self.pad(token, into: presented)
            let length = UInt64(token.count)
            var found = -1
            for entry in 0..<count {
                let row = padded + entry &* words
                var difference = lengths[entry] ^ length
                for word in 0..<words { difference |= row[word] ^ presented[word] }
                // all ones when difference == 0, else zero: (d | -d) has the top bit set iff d != 0.
                let same = Int(bitPattern: UInt(((difference | (0 &- difference)) >> 63) &- 1))
                found = (entry & same) | (found & ~same)
            }
            return found
        }
    }

    /// `token` as little-endian words, zero-padded to `words.count` (the caller checked it fits): whole
    /// words loaded as they are, the last partial one as the eight bytes ending at the token's end
    /// shifted down, so filling takes a few instructions a word and no library call. Its time depends
    /// on the token's length only, never on its bytes.
    @inline(__always)
    static func pad(_ token: UnsafeRawBufferPointer, into words: UnsafeMutableBufferPointer<UInt64>) {
        let count = token.count
        guard let base = token.baseAddress, count >= 8 else {
            for word in 0..<words.count { words[word] = 0 }
            for byte in 0..<count { words[0] |= UInt64(token[byte]) << (8 * byte) }
            return
        }
        let whole = count >> 3
        let rest = count & 7
        for word in 0..<whole { words[word] = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: word << 3, as: UInt64.self)) }
        var next = whole
        if rest != 0 {
            let last = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
            words[next] = last >> UInt64(8 * (8 - rest))
            next += 1
        }
        while next < words.count {
            words[next] = 0
            next += 1
        }
    }

    /// The scopes of entry `index` as `RouteAccess` bits.
    @inline(__always) func scopes(_ index: Int) -> UInt8 { scopeBits[index] }
}
