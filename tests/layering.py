#!/usr/bin/env python3
"""The dependency graph of docs/architecture.md, checked on every #include:
store/common depends on nothing of Arbor's; proto/, store/ and auth/ on common;
collector/ and query/ on common, auth, store and proto, never on each other; and
nothing outside store/ includes <lmdb.h>. Prints TAP."""
import os
import re
import sys

from tap_report import report

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
COMMON = {"arbor/base.h", "arbor/config.h", "arbor/log.h", "arbor/listen.h", "arbor/ingest_stats.h", "arbor/map64.h",
          "arbor/http1.h"}
PROTO = {"otlp.h"}
STORE = {"arbor/store.h"}
AUTH = {"arbor/auth.h", "arbor/tls.h"}
# module -> Arbor headers it may include besides its own files
ALLOWED = {
    "store/common": COMMON,
    "proto": COMMON,
    "store": COMMON | STORE,
    "auth": COMMON | AUTH,
    "collector": COMMON | STORE | PROTO | AUTH,
    "query": COMMON | STORE | PROTO | AUTH,
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def module_of(path):
    for m in sorted(ALLOWED, key=len, reverse=True):
        if path.startswith(m + "/"):
            return m
    return None


def own_headers(module):
    names = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, module)):
        for f in files:
            if f.endswith(".h"):
                names.add(f)
    return names


# every Arbor header, by the name code includes it with, and the module it is in
OWNER = {}
for m in ALLOWED:
    for name in own_headers(m):
        OWNER.setdefault(name, m)
for name in COMMON:
    OWNER[name] = "store/common"
for name in STORE:
    OWNER[name] = "store"
for name in AUTH:
    OWNER[name] = "auth"
ALLOWED_MODULES = {m: {OWNER[h] for h in allowed} | {m} for m, allowed in ALLOWED.items()}

problems, checked = [], 0
for module in ALLOWED:
    for dirpath, _, files in os.walk(os.path.join(ROOT, module)):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.relpath(os.path.join(dirpath, f), ROOT)
            if module_of(path) != module:
                continue  # store/common files are checked as store/common, not store
            checked += 1
            for kind, name in INCLUDE.findall(open(os.path.join(ROOT, path), encoding="utf-8").read()):
                if kind == '"' and os.path.exists(os.path.join(dirpath, name)):
                    continue  # the module's own header, next to the file
                owner = OWNER.get(name)
                if name == "lmdb.h" and module != "store":
                    problems.append(f"{path}: includes <lmdb.h> (only store/ may)")
                elif owner is not None and owner not in ALLOWED_MODULES[module]:
                    problems.append(f"{path}: includes {name} of {owner}/, which {module}/ may not depend on")

report(checked > 20, f"{checked} source files scanned", problems, "every include follows the dependency graph")
