"""The symbolic-check worker: one JSON [pred, gold, rel_tol] per stdin line, '1' or '0' per stdout line.

Started by mathlit.answers.symbolic with a memory limit; it is killed and replaced when a check
runs past its time limit.
"""

import json
import resource
import sys


def main() -> None:
    memory = int(sys.argv[1]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from mathlit.answers.compare import texts_equal  # after the limit: sympy's own allocations count

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            pred, gold, rel_tol = json.loads(line)
            result = texts_equal(pred, gold, rel_tol)
        except (MemoryError, ValueError, TypeError, RecursionError, ArithmeticError):
            result = False
        sys.stdout.write("1\n" if result else "0\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
