"""The TAP ending of the tree checks (layering.py, function_size.py): test 1 says the
check read enough to mean something, then one line per problem, or one ok line."""
import sys


def report(read_enough, read_line, problems, all_ok_line):
    """Print the TAP and exit: 1 on any problem or when too little was read."""
    print(f"ok 1 - {read_line}" if read_enough else f"not ok 1 - only {read_line}")
    for i, p in enumerate(problems or [None], start=2):
        print(f"not ok {i} - {p}" if p else f"ok {i} - {all_ok_line}")
    print(f"1..{max(2, len(problems) + 1)}")
    sys.exit(1 if problems or not read_enough else 0)
