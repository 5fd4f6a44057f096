"""Summarises `perf script` output (demangled, with call chains) of one process into text: where its CPU
time goes, by concern. Reads stdin, writes the summary to stdout.

Each sample is attributed twice:
  self      the library (DSO) of the leaf frame, and the top leaf symbols.
  concern   walking from the leaf towards the root, the first frame that says what the work was for:
            - a syscall wrapper in libc (send, recv, read, write, poll, epoll_wait, futex …): "syscall
              <name>", with the first Celeriac module above it ("from RedisClient", "from HTTPServer");
            - a lock primitive (pthread_mutex_*, __lll_lock_*, NSLock, swift Mutex/Atomic wait): "locking";
            - the Swift concurrency runtime (libswift_Concurrency, libdispatch): "Swift concurrency runtime";
            - a Celeriac module frame: the module, with JSON apart ("JSON encode" for JSONValue's writers
              and TaskMessage.encoded, "JSON decode" for the parser);
            malloc/free, retain/release and stdlib frames are skipped, so their cost goes to the caller's
            concern. Samples whose chain ends before any such frame are "unattributed (<leaf DSO>)".
Inclusive shares of a few named functions follow (a sample counts once per function on its stack).
"""
import collections
import re
import sys

# libc wrappers of syscalls, by their name after the __GI_/__libc_/__ prefixes are stripped.
SYSCALLS = {"send", "recv", "read", "write", "poll", "epoll_wait", "epoll_ctl", "accept4", "sendmsg", "recvmsg",
            "writev", "readv", "close", "clock_gettime", "nanosleep", "clock_nanosleep", "sched_yield",
            "getrandom", "eventfd_read", "eventfd_write", "syscall", "futex_wait", "futex_abstimed_wait_common",
            "futex_abstimed_wait_common64", "futex_abstimed_wait_cancelable64", "pthread_cond_signal",
            "pthread_cond_broadcast", "pthread_cond_wait", "pthread_cond_timedwait", "connect", "socket",
            "setsockopt", "getsockopt", "open", "openat", "open64", "fstat", "mmap", "munmap", "madvise", "brk"}
PREFIX = re.compile(r"^(__GI_+|__libc_|__)+")
LOCKS = re.compile(r"pthread_mutex_|lll_lock|lll_mutex_lock|__pthread_mutex|NSLock|os_unfair_lock|"
                   r"Synchronization\.Mutex|_MutexHandle|Locked\.withLock|pthread_rwlock")
CONCURRENCY_DSO = re.compile(r"libswift_Concurrency|libdispatch")
OUR_MODULES = ("TaskProtocol", "RedisClient", "HTTPServer", "TaskAPI", "TaskQueue", "Worker", "Sockets",
               "Celeriac", "ExampleTasks", "celeriac")
FRAME = re.compile(r"^\s*[0-9a-f]+ (.*) \((.*)\)$")
INCLUSIVE = [
    ("JSON encode (JSONValue writers)", re.compile(r"JSONValue\.write|JSONValue\.serialized|JSONValue\.encoded")),
    ("JSON decode (JSONValue parser, request bodies)", re.compile(r"JSONValue\.parse|JSONParser|parsing|jsonObject")),
    ("TaskMessage.encoded (Celery envelope)", re.compile(r"TaskMessage\.encoded")),
    ("TaskMessage decode", re.compile(r"TaskMessage\.(init|decode|parse)")),
    ("task ids (TaskMessage.newID, UUID)", re.compile(r"newID|UUID\.init|uuid_generate")),
    ("RESP encode (hiredis format / RESPEncoder)", re.compile(r"RESPEncoder|redisFormat")),
    ("RESP decode (hiredis reader / RESPValue)", re.compile(r"redisReader|RESPDecoder|RESPCodec|RESPValue\.init")),
    ("HTTP parse (HTTPParser)", re.compile(r"HTTPParser")),
    ("HTTP response encode", re.compile(r"ResponseEncoder|HTTPResponse")),
    ("swift retain/release", re.compile(r"^swift_(retain|release|bridgeObjectRe)")),
    ("malloc/free", re.compile(r"^(malloc|_int_malloc|_int_free|cfree|free|malloc_consolidate|swift_allocObject|swift_slowAlloc)")),
    ("locks (mutex, NSLock)", LOCKS),
    ("kernel (any)", None),
]


def clean(symbol):
    """The function's own name: no offset, no "(N) suspend resume partial function for" or "closure #N in"
    prefixes, no specialization clause, nothing from its parameter list or result type on."""
    text = symbol.split("+0x")[0]
    text = re.sub(r"^\(\d+\) ", "", text)
    while True:
        m = re.match(r"^(merged |generic |function signature |generic not re-abstracted )*specialization <", text)
        if not m:
            break
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"<": 1, ">": -1}.get(text[i], 0)
            i += 1
        text = text[i:].removeprefix(" of ")
    m = re.search(r" in (?=[A-Za-z_(])", text) if text.startswith(("closure #", "implicit closure #")) else None
    if m:
        return clean(text[m.end():])
    depth = 0
    for i, ch in enumerate(text):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0 and not text[:i].endswith(("static ", " ", ".")):
            return text[:i]
    return text


def module_of(symbol):
    """Our module the function belongs to (the leftmost "Module." in its cleaned name), if any."""
    name = clean(symbol)
    best = None
    for module in OUR_MODULES:
        m = re.search(r"(^|[ (<:\[])" + module + r"\.", name)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), module)
    return best[1] if best else None


def syscall_of(symbol):
    base = PREFIX.sub("", symbol.split("+0x")[0])
    return base if base in SYSCALLS else None


def concern(frames):
    """frames: [(symbol, dso)] leaf first."""
    for i, (symbol, dso) in enumerate(frames):
        base = clean(symbol)
        if "[kernel" in dso:
            continue
        if LOCKS.search(base):
            return "locking", base
        if (call := syscall_of(symbol)):
            # The module that asked: Sockets is the generic layer, so look past it (HTTP or Redis?).
            callers = [m for s, _ in frames[i + 1:] if (m := module_of(s))]
            caller = next((m for m in callers if m != "Sockets"), callers[0] if callers else None)
            above = next((clean(s) for s, d in frames[i + 1:] if "libc.so" not in d and clean(s) != clean(symbol)), "")
            via = f" via {above[:60]}" if above and not module_of(above) else ""
            return f"syscall {call}" + (f" from {caller}" if caller else "") + via, base
        if CONCURRENCY_DSO.search(dso):
            return "Swift concurrency runtime", base
        module = module_of(base)
        if module:
            if module == "TaskProtocol" and re.search(r"JSONValue\.write|TaskMessage\.encoded|JSONValue\.serial", base):
                return "JSON encode", base
            if re.search(r"JSONValue\.parse|JSONParser|parsing|jsonObject", base):
                return "JSON decode", base
            return module, base
    leaf = frames[0][1].rsplit("/", 1)[-1] if frames else "?"
    if "[kernel" in leaf:
        return "kernel, no user frame (interrupts, scheduler)", clean(frames[0][0])
    return f"unattributed ({leaf})", clean(frames[0][0])


def samples(stream):
    frames = []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if not line.startswith(("\t", " ")):
            frames = []
            continue
        m = FRAME.match(line)
        if m:
            frames.append((m.group(1), m.group(2)))
    if frames:
        yield frames


def main():
    title = sys.argv[1] if len(sys.argv) > 1 else "profile"
    total = 0
    by_dso = collections.Counter()
    by_leaf = collections.Counter()
    by_concern = collections.Counter()
    concern_functions = collections.defaultdict(collections.Counter)
    inclusive = collections.Counter()
    for frames in samples(sys.stdin):
        total += 1
        leaf, dso = frames[0]
        by_dso[dso.rsplit("/", 1)[-1]] += 1
        by_leaf[leaf.split("+0x")[0][:150]] += 1
        category, function = concern(frames)
        by_concern[category] += 1
        concern_functions[category][function[:110]] += 1
        for label, pattern in INCLUSIVE:
            if pattern is None:
                hit = any("[kernel" in d for _, d in frames)
            else:
                hit = any(pattern.search(clean(s)) for s, _ in frames)
            if hit:
                inclusive[label] += 1
    if not total:
        sys.exit("no samples")
    pct = lambda n: f"{100 * n / total:5.1f} %"
    print(f"# {title}: {total} samples")
    print("\n## By concern (first frame up the stack that names the work; sums to 100 %)")
    for name, n in by_concern.most_common(25):
        print(f"  {pct(n)}  {name}")
    print("\n## The functions behind the top concerns (the frame that named the concern)")
    for name, n in by_concern.most_common(8):
        print(f"  {name}:")
        for function, k in concern_functions[name].most_common(4):
            print(f"    {pct(k)}  {function}")
    print("\n## Inclusive (a sample counts once per function on its stack; overlapping)")
    for label, _ in INCLUSIVE:
        print(f"  {pct(inclusive[label])}  {label}")
    print("\n## Self, by library")
    for name, n in by_dso.most_common(12):
        print(f"  {pct(n)}  {name}")
    print("\n## Self, top 30 leaf functions")
    for name, n in by_leaf.most_common(30):
        print(f"  {pct(n)}  {name}")


if __name__ == "__main__":
    main()
