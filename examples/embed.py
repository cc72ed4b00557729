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
    out = ["/* generated from %s by examples/embed.py; do not edit */" % path,
           "static const char %s[] =" % name]
    for line in data.decode("utf-8").split("\n"):
        esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
        out.append('    "%s\\n"' % esc)
    out[-1] += ";"
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
