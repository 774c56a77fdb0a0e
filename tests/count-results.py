#!/usr/bin/env python3
"""Sum test cases over meson testlog.json files: every TAP line of a TAP test
counts as one case, any other test counts once. Prints 'N passed, N failed'."""
import json
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout") or ""
        oks = len(re.findall(r"^ok \d+", out, re.M))
        nots = len(re.findall(r"^not ok \d+", out, re.M))
        good = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        if oks or nots:
            passed += oks
            failed += nots
            if not good and nots == 0:  # crashed or timed out after its last case
                failed += 1
        elif good:
            passed += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
