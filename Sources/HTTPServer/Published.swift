import Synchronization

/// An immutable object that many threads read on every request and that is rarely replaced (the
/// tokens on SIGHUP): a read is one atomic load, with no lock and no reference-count traffic on a
/// cache line shared by the event loops. The price: a replaced object is never freed (a reader may
/// still be using it, and nothing tracks readers), so replacements must stay rare and small.
final class Published<Value: AnyObject & Sendable>: Sendable {
    private let current: Atomic<UInt>
    // Every value ever published, so that none is freed under a reader.
    private let kept: Mutex<[Value]>

    init(_ value: Value) {
        kept = Mutex([value])
        current = Atomic(UInt(bitPattern: Unmanaged.passUnretained(value).toOpaque()))
    }

    /// Makes `value` what later reads see.
    func publish(_ value: Value) {
        kept.withLock { kept in
            kept.append(value)
            current.store(UInt(bitPattern: Unmanaged.passUnretained(value).toOpaque()), ordering: .releasing)
        }
    }

    /// The value published now, unretained: valid for the process's life (no value is ever freed).
    @inline(__always) func unretained() -> Unmanaged<Value> {
        Unmanaged<Value>.fromOpaque(UnsafeRawPointer(bitPattern: current.load(ordering: .acquiring))!)
    }

    /// Runs `body` on the value published now (borrowed: do not let it escape).
    @inline(__always) func read<R>(_ body: (Value) -> R) -> R {
        let bits = current.load(ordering: .acquiring)
        return Unmanaged<Value>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef(body)
    }
}
