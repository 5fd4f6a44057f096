"""Replays the enqueue script calls a `redis-cli MONITOR` capture holds, at one batch size, against a
redis-server: each call with fresh task ids (same length, so envelopes keep their size), so every one
publishes and indexes new tasks. Prints Redis's commandstats per call and task (--stats), or zeroes and
dumps callgrind's counters around the measured calls (--callgrind PID).

    replay.py --port P --monitor monitor.txt --batch 7 [--count 100] [--warm 40] [--stats] [--callgrind PID]
"""
import argparse, random, re, subprocess, sys, uuid

import redis


def unrepr(line, i):
    """The bytes of the MONITOR-quoted string starting at line[i] (sdscatrepr's escapes), and the next index."""
    out = bytearray()
    i += 1
    while True:
        c = line[i]
        if c == '"':
            return bytes(out), i + 1
        if c == '\\':
            n = line[i + 1]
            if n == 'x':
                out.append(int(line[i + 2:i + 4], 16))
                i += 4
                continue
            out += {'n': b'\n', 'r': b'\r', 't': b'\t', 'a': b'\a', 'b': b'\b'}.get(n, n.encode())
            i += 2
            continue
        out += c.encode('utf-8', 'surrogateescape')
        i += 1


def parse(line):
    """The arguments of one MONITOR line."""
    j = line.index('] ') + 2
    args = []
    while j < len(line):
        if line[j] == '"':
            arg, j = unrepr(line, j)
            args.append(arg)
        else:
            j += 1
    return args


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--monitor', required=True)
    ap.add_argument('--batch', type=int, required=True)
    ap.add_argument('--count', type=int, default=100)
    ap.add_argument('--warm', type=int, default=40, help='calls first, so the index sets are past listpack size')
    ap.add_argument('--callgrind', type=int, default=0, help='pid of the redis-server running under callgrind')
    ap.add_argument('--stats', action='store_true')
    o = ap.parse_args()
    # Each call: the commands sent before the script in its MULTI/EXEC (the envelopes' LPUSHes), if any, and
    # the EVALSHA; replayed as captured (MULTI, those, EVALSHA, EXEC, or the EVALSHA alone).
    loads, calls, queued = [], [], None
    for line in open(o.monitor, encoding='utf-8', errors='surrogateescape'):
        if '[0 lua]' in line:
            continue
        if '"SCRIPT" "LOAD"' in line:
            loads.append(parse(line)[2])
        elif '"EVALSHA"' in line:
            args = parse(line)
            # The enqueue script's ARGV[1] is its message count; its first key the list.
            if args[3] == b'celery' and int(args[3 + int(args[2])]) == o.batch:
                calls.append((queued or [], args))
        elif '"MULTI"' in line and parse(line)[0] == b'MULTI':
            queued = []
        elif '"EXEC"' in line and parse(line)[0] == b'EXEC':
            queued = None
        elif queued is not None:
            queued.append(parse(line))
    if not calls:
        sys.exit(f'no enqueue call of batch {o.batch} in {o.monitor}')
    r = redis.Redis(port=o.port)
    for source in loads:
        r.execute_command('SCRIPT', 'LOAD', source)
    rng = random.Random(42)
    record = re.compile(rb'^.*:task:([0-9a-f-]{36})$')

    def fresh(before, call):
        ids = [m.group(1) for a in call if (m := record.match(a))]
        new = {old: str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode() for old in ids}

        def renamed(command):
            out = []
            for a in command:
                for old, nw in new.items():
                    if old in a:
                        a = a.replace(old, nw)
                out.append(a)
            return out
        return [renamed(c) for c in before], renamed(call)

    def run(k):
        for x in range(0, k, 10):
            p = r.pipeline(transaction=False)
            for y in range(x, min(x + 10, k)):
                before, call = fresh(*calls[y % len(calls)])
                if before:
                    p.execute_command('MULTI')
                    for command in before:
                        p.execute_command(*command)
                p.execute_command(*call)
                if before:
                    p.execute_command('EXEC')
            for reply in p.execute():
                assert isinstance(reply, list) or reply in (True, b'OK', b'QUEUED', 'OK', 'QUEUED'), reply

    run(o.warm)
    if o.callgrind:
        subprocess.run(['callgrind_control', '-z', str(o.callgrind)], check=True, capture_output=True)
    if o.stats:
        r.config_resetstat()
    run(o.count)
    if o.callgrind:
        subprocess.run(['callgrind_control', '-d', f'batch{o.batch}', str(o.callgrind)], check=True, capture_output=True)
    if o.stats:
        info = r.info('commandstats')
        ev = info['cmdstat_evalsha']
        per = ev['usec_per_call']
        print(f"batch {o.batch}: {per:.1f} us per call, {per / o.batch:.1f} us per task "
              f"(commands inside: {sum(v['usec'] for k, v in info.items() if k != 'cmdstat_evalsha' and 'config' not in k) / ev['calls']:.1f} us)")


if __name__ == '__main__':
    main()
