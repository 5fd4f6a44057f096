import CMalloc

/// glibc's allocator tuned for the API's big, short-lived buffers.
///
/// A 1,000-member `POST /groups` allocates several buffers of about 1 MB (the envelopes, the script
/// call's arguments, its RESP framing). By default glibc serves such sizes with `mmap`, or trims freed
/// memory back to the kernel, after each request, so the next request faults fresh pages in again:
/// ~780 page faults per request, 16 % of its CPU (perf). Serving allocations up to 32 MB from the heap
/// and keeping up to 64 MB of freed memory per arena leaves ~10: a burst's memory is kept, not returned.
enum MallocTuning {
    /// Sets the thresholds; called once at start-up.
    static func apply() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
    }
}
