#!/usr/bin/env python3
"""The stack budget: the deepest stack each public rt_ function can reach.

Compiles rt.h's implementation (tests/compile/impl.c) with
    gcc -O2 -fstack-usage -fcallgraph-info=su
which writes, per function, the bytes of its own frame and the calls it
makes (a .ci file, VCG text). For every public entry point (rt_*, not rt__*)
this sums the frames along its deepest call chain and prints a table.

What it cannot see, and says so in the table:
  - calls through a function pointer (the application's callbacks, the
    allocator hooks, an encoder): marked "+cb", counted as 0 bytes;
  - the C library (memcpy, snprintf, send, ...): counted as 0 bytes.
A call cycle (recursion) is reported, never followed round: a function
appears at most once on a chain. The cycles known to be bounded at run time
are listed in KNOWN_CYCLES with the reason; any other one fails.

Fails (exit 1) when
  - an rt_proto_* entry point is deeper than the budget (2048 bytes, or
    STACK_PROTO_BUDGET), or
  - any entry point's depth is unknown: a frame of dynamic size (alloca, a
    VLA) or recursion on its chain.

    python3 tests/stack.py [--all] [--cc gcc] [-- extra compiler flags]
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET = int(os.environ.get("STACK_PROTO_BUDGET", "2048"))
NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
FRAME = re.compile(r'\\n(\d+) bytes \(([a-z,]+)\)')
INDIRECT = "__indirect_call"
# Functions on static call cycles that the connection's state bounds: a send
# that overflows the queue closes the connection, and the close frame's send
# finds it closing (or dropped) and goes no further round. Counted once.
KNOWN_CYCLES = {"rt_conn_close", "rt_conn_send", "rt__conn_enqueue", "rt__conn_send_bytes",
                "rt__conn_overflow", "rt__conn_send_frame"}


def short(title):
    return title.rsplit(":", 1)[-1]


def compile_ci(cc, flags, out):
    obj = os.path.join(out, "impl.o")
    cmd = [cc, "-O2", "-fstack-usage", "-fcallgraph-info=su", "-c",
           os.path.join(ROOT, "tests/compile/impl.c"), "-o", obj] + flags
    subprocess.run(cmd, check=True, cwd=out)
    return os.path.join(out, "impl.ci"), " ".join([cc, "-O2", "-fstack-usage"] + flags)


def read_graph(ci):
    frames, kinds, calls = {}, {}, {}
    with open(ci) as f:
        text = f.read()
    for title, label in NODE.findall(text):
        m = FRAME.search(label)
        if m:  # a function defined here (others are library calls)
            frames[title] = int(m.group(1))
            kinds[title] = m.group(2)
    for src, dst in EDGE.findall(text):
        calls.setdefault(src, [])
        if dst not in calls[src]:
            calls[src].append(dst)
    return frames, kinds, calls


class Walk:
    """Deepest chain from each function, memoised; cycles are flagged."""

    def __init__(self, frames, kinds, calls):
        self.frames, self.kinds, self.calls = frames, kinds, calls
        self.memo = {}
        self.active = set()

    def deepest(self, fn):
        """(bytes, chain, via_pointer, problems) for fn."""
        if fn in self.memo:
            return self.memo[fn]
        if fn in self.active:  # back to a function still on the chain: recursion
            return 0, [short(fn)], False, ["recursion through " + short(fn)]
        self.active.add(fn)
        best, chain, cb, problems = 0, [], False, []
        if "bounded" not in self.kinds[fn] and "dynamic" in self.kinds[fn]:
            problems.append("dynamic frame in " + short(fn))
        for callee in self.calls.get(fn, []):
            if callee == INDIRECT:
                cb = True
            elif callee in self.frames:
                n, ch, c2, pr = self.deepest(callee)
                cb = cb or c2
                problems += [p for p in pr if p not in problems]
                if n > best:
                    best, chain = n, ch
        self.active.discard(fn)
        result = (self.frames[fn] + best, [short(fn)] + chain, cb, problems)
        if not any(p.startswith("recursion") for p in problems):
            self.memo[fn] = result  # a cycle's partial sums depend on the entry
        return result


def main(argv):
    cc, flags, show_all = "gcc", [], False
    if "--" in argv:
        flags = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    if "--all" in argv:
        show_all = True
    if "--cc" in argv:
        cc = argv[argv.index("--cc") + 1]
    with tempfile.TemporaryDirectory() as out:
        ci, how = compile_ci(cc, flags, out)
        frames, kinds, calls = read_graph(ci)
    walk = Walk(frames, kinds, calls)
    rows = []
    for fn in frames:
        name = short(fn)
        if name.startswith("rt_") and not name.startswith("rt__"):
            rows.append((name,) + walk.deepest(fn))
    rows.sort(key=lambda r: (-r[1], r[0]))
    print("# deepest stack per public entry point: %s -fcallgraph-info=su" % how)
    print("# +cb: the chain calls through a function pointer (callbacks, allocator,")
    print("#      encoder), which is not followed; the C library counts as 0 bytes")
    print("%-28s %6s  %s" % ("entry point", "bytes", "deepest chain"))
    bad, cycles = [], set()
    for name, n, chain, cb, problems in rows:
        if show_all or name.startswith("rt_proto_") or n >= 512:
            print("%-28s %6d  %s%s" % (name, n, " > ".join(chain), "  +cb" if cb else ""))
        for p in problems:
            fn = p.rsplit(" ", 1)[-1].split(".")[0]
            if p.startswith("recursion") and fn in KNOWN_CYCLES:
                cycles.add(fn)
            else:
                bad.append("%s: unknown depth (%s)" % (name, p))
        if name.startswith("rt_proto_") and n > BUDGET:
            bad.append("%s: %d bytes, over the protocol's budget of %d" % (name, n, BUDGET))
    if not show_all:
        print("# (entry points under 512 bytes not shown: --all shows them)")
    worst = rows[0] if rows else ("none", 0)
    proto = max([r for r in rows if r[0].startswith("rt_proto_")], key=lambda r: r[1],
                default=("none", 0))
    print("# %d entry points; deepest %s %d bytes; protocol path %s %d bytes (budget %d)"
          % (len(rows), worst[0], worst[1], proto[0], proto[1], BUDGET))
    if cycles:
        print("# recursion (known, bounded; counted once round): " + ", ".join(sorted(cycles)))
    for b in bad:
        print("FAIL: " + b)
    print("%d passed, %d failed" % (0 if bad else 1, 1 if bad else 0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
