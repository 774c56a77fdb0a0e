"""TAP for the Python integration suites: @case registers a test, run() runs
them in order, prints one TAP line each (with the traceback of a failure),
cleans up whatever happens, and exits non-zero when any failed."""
import sys
import traceback

cases = []


def case(fn):
    cases.append(fn)
    return fn


def run(cleanup):
    failed = 0
    try:
        for n, fn in enumerate(cases, 1):
            name = fn.__name__.replace("_", " ")
            try:
                fn()
                print("ok %d - %s" % (n, name))
            except Exception:
                failed += 1
                print("not ok %d - %s" % (n, name))
                for line in traceback.format_exc().splitlines():
                    print("#   " + line)
            sys.stdout.flush()
        print("1..%d" % len(cases))
    finally:
        cleanup()
    sys.exit(1 if failed else 0)
