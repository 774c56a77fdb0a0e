#!/usr/bin/env python3
"""No function of Arbor's C sources runs past MAX_LINES (one screen, read in one
sitting): a C function here starts at a line "{" in column 0 after its
signature and ends at the next "}" in column 0. Prints TAP."""
import glob
import os
import re
import sys

from tap_report import report

MAX_LINES = 80
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
FOLDERS = ["collector", "query", "proto", "store/src", "store/common/src", "store/tools"]

found, n = [], 0
for folder in FOLDERS:
    for path in sorted(glob.glob(os.path.join(ROOT, folder, "*.c"))):
        lines = open(path, encoding="utf-8").read().split("\n")
        for i, line in enumerate(lines):
            if line != "{":
                continue
            name = re.search(r"(\w+)\s*\(", lines[i - 1] if i else "")
            k = i - 1
            while name is None and k > 0:  # a signature over two lines
                k -= 1
                name = re.search(r"(\w+)\s*\(", lines[k])
            end = next((j for j in range(i, len(lines)) if lines[j] == "}"), len(lines))
            n += 1
            if end - i - 1 > MAX_LINES:
                found.append(f"{os.path.relpath(path, ROOT)}: {name.group(1) if name else '?'} has {end - i - 1} lines")
report(n > 100, f"{n} functions read", [f"{f} (at most {MAX_LINES})" for f in found],
       f"every function is at most {MAX_LINES} lines")
