"""Runs recipes through mergekit, for regenerate.py and the live comparison. Executed by the
Python of a separate venv holding mergekit 0.1.5 (never imported by Clade):

    MERGEKIT_PYTHON mergekit_runner.py JOBS.json RESULTS.json

JOBS.json: [{"name", "recipe" (model paths filled in), "out", "options"}]; RESULTS.json:
{name: {"status": "ok" | "error", "error": message}}.
"""

import json
import logging
import os
import sys


def main(jobs_file: str, results_file: str) -> None:
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    logging.disable(logging.WARNING)
    results = {}
    with open(jobs_file) as f:
        jobs = json.load(f)
    for job in jobs:
        try:
            config = MergeConfiguration.model_validate(job["recipe"])
            cache = os.path.join(os.path.dirname(job["out"]), "lora-cache")
            options = MergeOptions(random_seed=0, quiet=True, lora_merge_cache=cache, **job.get("options", {}))
            run_merge(config, job["out"], options=options)
            results[job["name"]] = {"status": "ok"}
        except Exception as exc:  # noqa: BLE001 - recorded: the expected outcome of some cases is an error
            results[job["name"]] = {"status": "error", "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    with open(results_file, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
