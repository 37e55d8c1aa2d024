"""The evaluation cascade, run inside the sandbox in the candidate's tree:

    python -m agents.code.cascade '{"quick": [...], "full": [...], "threshold": 0.5, "key": "fitness"}'

The quick check runs first; it passes when it exits 0 and, with a threshold, its `key`
metric reaches it. Only then does the full evaluation run; its metrics are printed as the
last line, with the quick check's prefixed `quick/`. A quick check that fails ends the job
(exit 1) with the reason on stderr, so the candidate is recorded as failed without paying
for the full evaluation. Both commands share the job's wall-clock limit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tools.evaluate.command import CommandFailed, run_command_evaluator

WALL_S = 24 * 3600.0  # the sandbox's own limit kills the whole job sooner


def run(spec: dict) -> dict[str, float]:
    quick = _stage(spec["quick"], "quick check")
    key, threshold = spec.get("key", "fitness"), spec.get("threshold")
    if threshold is not None and not quick.get(key, float("-inf")) >= threshold:
        raise CommandFailed(
            f"quick check scored {key} = {quick.get(key)!r}, below the cascade threshold {threshold}; the full evaluation was not run",
            stdout="",
            stderr="",
        )
    full = _stage(spec["full"], "full evaluation")
    return {**{f"quick/{k}": v for k, v in quick.items()}, **full}


def _stage(argv: list[str], name: str) -> dict[str, float]:
    try:
        return run_command_evaluator(argv, Path.cwd(), timeout_s=WALL_S)
    except CommandFailed as exc:
        sys.stdout.write(exc.stdout)
        sys.stderr.write(exc.stderr)
        raise CommandFailed(f"{name}: {exc}", stdout="", stderr="") from None


def main(argv: list[str]) -> int:
    try:
        metrics = run(json.loads(argv[0]))
    except CommandFailed as exc:
        print(f"cascade: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
