"""`clade sources [--remeasure [NAME ...]] [--backend B] [--json]`: the search's roots and their measurements.

Lists the workspace's sources (and its base model, as `base`) as the archive knows them: id,
status, fitness on the search and the held-out split, and why a measurement failed. A source is
recorded and measured by the first `clade run`; one whose search-split measurement failed is
measured again by the next `clade run`. `--remeasure` measures now, on both splits, every source
(or the ones named), e.g. after fixing a task file or changing the evaluation: the new figures
replace the old ones, and the status follows the search split.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser("sources", help="the sources with their status and fitness; --remeasure measures them again")
    p.add_argument("--remeasure", nargs="*", metavar="NAME", help="measure these sources again (none named: every one)")
    p.add_argument("--backend", choices=("local", "docker", "ray"), help="sandbox backend for --remeasure (default: sandbox.backend)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_sources)


def cmd_sources(args: argparse.Namespace) -> int:
    from agents.run_cmd import _open_archive
    from agents.session.sources import record_sources
    from agents.workspace import load_workspace
    from tools.errors import BadInput

    workspace = load_workspace(getattr(args, "workspace", None))
    with _open_archive(workspace) as archive:
        sources = record_sources(workspace, archive)
        if args.remeasure is not None:
            names = {c.genotype.name for c in sources}
            unknown = [n for n in args.remeasure if n not in names]
            if unknown:
                raise BadInput(f"--remeasure {unknown[0]}: no such source (sources: {', '.join(sorted(names))})")
            chosen = [c for c in sources if not args.remeasure or c.genotype.name in args.remeasure]
            from sandbox.api import make_backend

            remeasure(workspace, archive, chosen, make_backend(workspace.config.sandbox, args.backend))
            sources = [archive.get(c.id) for c in sources]
        rows = [source_row(c) for c in sources]
    print(json.dumps(rows, indent=1) if args.json else sources_table(rows))
    return 0


def remeasure(workspace, archive, chosen, backend) -> None:
    """Measure the `chosen` sources again on both splits through `backend` (a sandbox backend)."""
    import sys

    from agents.jobs import evaluation_config
    from agents.session.display import PlainDisplay
    from agents.session.executor import make_executor
    from agents.session.sources import measure_sources

    evaluation = evaluation_config(workspace) if workspace.config.code is None else None
    executor = make_executor(workspace, backend)
    interrupted = True
    try:
        measure_sources(
            workspace,
            archive,
            executor,
            chosen,
            seed=workspace.config.planner.seed,
            display=PlainDisplay(sys.stderr),
            evaluation=evaluation,
            force=True,
        )
        interrupted = False
    finally:
        executor.close(cancel=interrupted)


def source_row(c) -> dict:
    return {
        "name": c.genotype.name,
        "id": c.id,
        "status": c.status,
        "search_fitness": c.fitness("search"),
        "test_fitness": c.fitness("test"),
        "reason": c.reason,
    }


def sources_table(rows: list[dict]) -> str:
    from archive.render import columns

    def fit(value):
        return "-" if value is None else f"{value:.4f}"

    body = [(r["name"], r["id"], r["status"], fit(r["search_fitness"]), fit(r["test_fitness"]), r["reason"] or "") for r in rows]
    return columns(("NAME", "ID", "STATUS", "FITNESS(search)", "FITNESS(test)", "REASON"), body)
