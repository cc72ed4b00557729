#!/usr/bin/env python3
"""Turn a file into a C header holding it as one string constant.

    python3 examples/embed.py examples/web/chat.html chat_page > build/gen/chat_page.h

The examples keep their web pages as real .html/.js files (easy to read and
edit) and compile them in, so the binaries need no files at run time.
"""
import sys


def main(path, name):
    with open(path, "rb") as f:
        data = f.read()
    # Numbers rather than a string literal: C99 only promises 4095-character
    # literals, and -Wpedantic holds us to it. The 0 at the end makes
    # sizeof name - 1 the file's length, as with a literal.
    out = ["/* generated from %s by examples/embed.py; do not edit */" % path,
           "static const char %s[] = {" % name]
    data += b"\0"
    for i in range(0, len(data), 16):
        # as signed values, which fit a char whatever its signedness
        out.append("    " + ", ".join("%d" % (b - 256 if b > 127 else b) for b in data[i:i + 16]) + ",")
    out.append("};")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
