"""The symbolic-check worker: one JSON [check, pred, gold, rel_tol] per stdin line, a verdict per stdout line.

check: "mathlit" (mathlit's parser and sympy: '1' equal, '0' unequal, 'F' unequal and final, see compare.py),
"math_verify" (the fallback on two extracted answers: '1' or '0') or "math_verify_alone" (math-verify's own
extraction from a whole solution). Started by mathlit.answers.symbolic with a memory limit; it is killed and
replaced when a check runs past its time limit.
"""

import json
import resource
import sys


def main() -> None:
    memory = int(sys.argv[1]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from mathlit.answers.compare import UNEQUAL, texts_verdict  # after the limit: sympy's own allocations count

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            check, pred, gold, rel_tol = json.loads(line)
            if check == "mathlit":
                result = texts_verdict(pred, gold, rel_tol)
            else:  # imported on first use: a run with answers.fallback=none never loads math-verify
                from mathlit.answers import fallback

                compare = fallback.answers_equal if check == "math_verify" else fallback.solution_equal
                result = "1" if compare(pred, gold) else "0"
        except Exception:  # noqa: BLE001 (math-verify's and sympy's failures on one answer are that answer's)
            result = UNEQUAL
        sys.stdout.write(result + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
