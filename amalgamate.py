#!/usr/bin/env python3
"""Merge src/ into the single header rt.h.

    python3 amalgamate.py           write rt.h
    python3 amalgamate.py --check   exit 1 if rt.h differs from what src/ gives
    python3 amalgamate.py --stdout  print the result instead of writing it
    python3 amalgamate.py --switches  list the feature switches (RT_NO_...)

Layout of the output:
    the manual (src/doc.h)
    #ifndef RT_H_INCLUDED   ... public declarations, in MODULES order ...
    #ifdef RT_IMPLEMENTATION / #ifndef RT_IMPLEMENTATION_ONCE
        collected system includes, then every implementation file in order
    the license (src/license.h)

Rules, each enforced with an error rather than a guess:
  - a local  #include "x.h"  is inlined the first time and dropped after;
    a local include that names no file under src/ is an error;
  - a system #include <x.h> of the implementation outside any #if is
    collected and emitted once at the top of that section; inside an #if it
    stays where it is (platform headers differ by target); the public section
    may use only stddef/stdint, and keeps them where they are;
  - a module with a feature switch is wrapped in #ifndef SWITCH, and its
    system includes stay inside the wrap; a switch that removes part of
    several modules is listed in EXTRA_SWITCHES; src/ may name no other
    RT_NO_ macro, and the manual must name every switch;
  - every #ifndef RT_X / #define RT_X default knob in src/ must be named in
    the manual, so the options table cannot fall behind the code.
The output depends only on the files, so a re-run is byte-identical.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(ROOT, "src")
OUT = os.path.join(ROOT, "rt.h")

# (module, feature switch or None), in dependency order: a module may use only
# the modules above it. Each module is src/<layer>/<name>.h (public
# declarations) and, unless it is declaration-only, src/<layer>/<name>.c
# (implementation); a module with no .h is implementation only (a second .c
# of the module above it, sharing its private header). A local include is written relative to the including
# file ("core.h" beside it, "../base/core.h" from another layer), so every
# header also compiles by itself; here each names one file under src/.
MODULES = [
    # 1. primitives
    ("base/core", None),
    ("base/sha1", None),
    ("base/b64", None),
    ("base/utf8", None),
    ("base/json", None),
    ("base/list", None),
    ("base/hash", None),
    ("base/heap", None),
    # 2. codecs (sans-IO)
    ("codec/http", None),
    ("codec/ws", None),
    ("codec/sse", "RT_NO_SSE"),
    # 3. the real-time model (pure data)
    ("model/room", None),
    ("model/presence", "RT_NO_PRESENCE"),
    # 4. I/O
    ("io/platform", "RT_NO_IO"),
    ("io/loop", "RT_NO_IO"),
    ("io/conn", "RT_NO_IO"),
    ("io/conn_queue", "RT_NO_IO"),  # implementation only: conn's output half
    ("io/server", "RT_NO_IO"),
    ("io/pubsub", "RT_NO_IO"),
    # 5. the wire protocol
    ("proto/proto", "RT_NO_PROTO"),
    # every file's check that it sees the structs the implementation does
    ("layout", None),
]

# Switches that remove a part of several modules rather than a whole module:
# the modules test them with #ifndef where that part is (RT_NO_LONGPOLL: the
# held requests of conn, server and pubsub). A whole module may also carry
# one of these in MODULES (codec/sse under RT_NO_SSE).
EXTRA_SWITCHES = ["RT_NO_LONGPOLL", "RT_NO_SSE"]

# Private headers emitted at the start of the implementation section.
IMPL_PRELUDE = ["base/config.h"]

PUBLIC_SYSTEM_OK = {"stddef.h", "stdint.h"}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
COND_OPEN_RE = re.compile(r'^\s*#\s*if(n?def)?\b')
COND_CLOSE_RE = re.compile(r'^\s*#\s*endif\b')
KNOB_RE = re.compile(r'^\s*#\s*ifndef\s+(RT_[A-Z0-9_]+)\s*$')
SWITCH_RE = re.compile(r'\bRT_NO_[A-Z0-9_]+\b')

class AmalgamateError(Exception):
    pass

class Merger:
    def __init__(self):
        self.emitted = set()        # local files already inlined
        self.out = []               # output lines of the current section
        self.system = []            # collected system includes, in order

    def read(self, name):
        path = os.path.join(SRC, name)
        if not os.path.isfile(path):
            raise AmalgamateError("unknown local include or missing file: src/%s" % name)
        with open(path, encoding="utf-8") as f:
            return f.read().split("\n")

    def emit_file(self, name, public, switch):
        """Inline src/<name>, recursing into local includes not yet emitted."""
        if name in self.emitted:
            return
        self.emitted.add(name)
        lines = self.read(name)
        if lines and lines[-1] == "":
            lines.pop()
        stem = os.path.splitext(os.path.basename(name))[0]
        self.out.append("/* ==== Begin src/%s ==== */ // >>%s" % (name, stem))
        if switch:
            self.out.append("#ifndef %s" % switch)
        depth = 0
        for lineno, line in enumerate(lines, 1):
            m = INCLUDE_RE.match(line)
            if COND_OPEN_RE.match(line):
                depth += 1
            elif COND_CLOSE_RE.match(line):
                depth -= 1
            if not m:
                self.out.append(line)
                continue
            kind, target = m.group(1), m.group(2)
            if kind == '"':
                target = os.path.normpath(os.path.join(os.path.dirname(name), target))
                self.emit_local(target, public, switch, name, lineno)
            else:
                self.emit_system(target, public, switch, depth, name, lineno, line)
        if switch:
            self.out.append("#endif /* %s */" % switch)
        self.out.append("/* ==== End src/%s ==== */" % name)
        self.out.append("")

    def emit_local(self, target, public, switch, name, lineno):
        if target in self.emitted:
            return
        if target.startswith("..") or not os.path.isfile(os.path.join(SRC, target)):
            raise AmalgamateError("src/%s:%d: unknown local include \"%s\"" % (name, lineno, target))
        self.emit_file(target, public, switch)

    def emit_system(self, target, public, switch, depth, name, lineno, line):
        if public and target not in PUBLIC_SYSTEM_OK:
            raise AmalgamateError("src/%s:%d: public declarations may include only "
                                  "<stddef.h> and <stdint.h>, not <%s>" % (name, lineno, target))
        if public or depth > 0 or switch:
            self.out.append(line)  # public or conditional: keep it in place
        elif target not in self.system:
            self.system.append(target)

def source_files():
    """Every .h and .c under src/, as paths relative to it, sorted."""
    found = []
    for d, _, files in os.walk(SRC):
        for f in files:
            if f.endswith((".h", ".c")):
                found.append(os.path.relpath(os.path.join(d, f), SRC))
    return sorted(found)

def check_knobs_documented(doc_text):
    missing = []
    for name in source_files():
        if name in ("doc.h", "license.h"):
            continue
        with open(os.path.join(SRC, name), encoding="utf-8") as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines[:-1]):
            m = KNOB_RE.match(line)
            # a knob has a default value; a bare #define is an include guard
            if m and re.match(r'^\s*#\s*define\s+%s\s+\S' % m.group(1), lines[i + 1]):
                if m.group(1) not in doc_text:
                    missing.append("src/%s:%d: %s" % (name, i + 1, m.group(1)))
    if missing:
        raise AmalgamateError("config macros missing from the manual (src/doc.h):\n  "
                              + "\n  ".join(missing))

def switches():
    """Every feature switch: those of whole modules and EXTRA_SWITCHES."""
    return sorted({s for _, s in MODULES if s} | set(EXTRA_SWITCHES))

def check_switches(doc_text):
    """A switch named in src/ must be a known one (a misspelt RT_NO_ would
    silently remove nothing), and every switch must be in the manual."""
    known = set(switches())
    errors = []
    for name in source_files():
        with open(os.path.join(SRC, name), encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                for sw in SWITCH_RE.findall(line):
                    if sw not in known:
                        errors.append("src/%s:%d: unknown feature switch %s" % (name, i, sw))
    errors += ["feature switch %s missing from the manual (src/doc.h)" % sw
               for sw in sorted(known) if sw not in doc_text]
    if errors:
        raise AmalgamateError("\n  ".join(errors))

def build():
    doc = "\n".join(Merger().read("doc.h")).rstrip("\n")
    lic = "\n".join(Merger().read("license.h")).rstrip("\n")
    check_knobs_documented(doc)
    check_switches(doc)

    pub = Merger()
    for mod, switch in MODULES:
        if os.path.isfile(os.path.join(SRC, mod + ".h")):  # else implementation only
            pub.emit_file(mod + ".h", True, switch)
    public_lines = pub.out

    impl = Merger()
    impl.emitted = set(pub.emitted)  # public headers are already in the file
    for name in IMPL_PRELUDE:
        impl.emit_file(name, False, None)
    for mod, switch in MODULES:
        if os.path.isfile(os.path.join(SRC, mod + ".c")):
            impl.emit_file(mod + ".c", False, switch)
    impl_lines = ["#include <%s>" % s for s in impl.system] + [""] + impl.out

    parts = [doc, "",
             "#ifndef RT_H_INCLUDED", "#define RT_H_INCLUDED", ""]
    parts += public_lines
    parts += ["#endif /* RT_H_INCLUDED */", "",
              "#ifdef RT_IMPLEMENTATION", "#ifndef RT_IMPLEMENTATION_ONCE",
              "#define RT_IMPLEMENTATION_ONCE", ""]
    parts += impl_lines
    parts += ["#endif /* RT_IMPLEMENTATION_ONCE */", "#endif /* RT_IMPLEMENTATION */", "", lic, ""]
    return "\n".join(parts)

def main(argv):
    try:
        text = build()
    except AmalgamateError as e:
        sys.stderr.write("amalgamate.py: %s\n" % e)
        return 2
    if "--switches" in argv:
        for sw in switches():
            print(sw)
        return 0
    if "--stdout" in argv:
        sys.stdout.write(text)
        return 0
    if "--check" in argv:
        try:
            with open(OUT, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            sys.stderr.write("amalgamate.py: rt.h is stale or hand-edited; "
                             "run python3 amalgamate.py and commit rt.h\n")
            return 1
        return 0
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
