"""Subcommands of the archive layer.

    clade candidates [--top K] [--status S] [--review V] [--kind K] [--proposer P] [--session S] [--split S] [--json]
    clade show ID [--json]        clade lineage ID [--json]        clade diff A B [--json]
    clade archive reindex|fsck    clade archive push|pull REMOTE   clade archive bundle FILE [--force]

Each command works on clade.yaml's `archive:` section, which the app fills in as `args.archive`
(its path absolute; agents.workspace.provide). An ID is a candidate id (any unique prefix of 4+ hex digits) or a source's name. Everything but
argparse is imported inside the handlers: no torch, transformers or litellm.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser("candidates", help="list the archive's candidates, best first")
    p.add_argument("--top", type=positive_count, metavar="K", help="only the K best")
    p.add_argument(
        "--status",
        choices=["proposed", "running", "succeeded", "failed", "invalid", "rejected"],
        help="only this status (rejected: refused by the planner before it ran, e.g. a duplicate; "
        "a reviewer's rejection is --review rejected)",
    )
    p.add_argument("--review", choices=["approved", "rejected", "none"], help="only this review verdict (none: not reviewed)")
    p.add_argument("--kind", choices=["source", "merge", "code"])
    p.add_argument("--proposer", metavar="STRATEGY", help="only candidates proposed by this strategy")
    p.add_argument("--session", metavar="ID", help="only candidates proposed by this search session (`clade sessions` lists them)")
    p.add_argument("--split", default="search", choices=("search", "test"), help="split whose fitness ranks them (default: search)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_candidates, needs="archive")
    p = subparsers.add_parser("show", help="one candidate: genotype, status, metrics beside its parents', reviews")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show, needs="archive")
    p = subparsers.add_parser("lineage", help="a candidate's ancestors back to its sources, and its descendants")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_lineage, needs="archive")
    p = subparsers.add_parser("diff", help="two candidates: metrics per task side by side, then the genotype diff")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true", help='one object: {"a", "b", "metrics": [{split, metric, a, b, delta}], "diff", "note"}')
    p.set_defaults(handler=cmd_diff, needs="archive")
    _register_archive(subparsers)


def positive_count(text: str) -> int:
    """An argparse type: a number of candidates, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of candidates, 1 or more")
    return value


def _register_archive(subparsers) -> None:
    p = subparsers.add_parser("archive", help="maintain and share the lineage archive")
    sub = p.add_subparsers(dest="archive_command", metavar="ACTION", required=True)
    sub.add_parser("reindex", help="rebuild the SQLite index from git").set_defaults(handler=cmd_reindex, needs="archive")
    sub.add_parser("fsck", help="check objects, records, parents and notes").set_defaults(handler=cmd_fsck, needs="archive")
    for name, helptext in (("push", "push the lineage to a git remote"), ("pull", "fetch and merge a remote's lineage")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("remote", help="a git URL, path or remote name")
        q.set_defaults(handler=cmd_push if name == "push" else cmd_pull, needs="archive")
    q = sub.add_parser("bundle", help="export the lineage as a git bundle file")
    q.add_argument("file")
    q.add_argument("--force", action="store_true", help="replace FILE when it exists (otherwise an existing file is refused)")
    q.set_defaults(handler=cmd_bundle, needs="archive")


def open_archive(args: argparse.Namespace, *, create: bool = False, repair: bool = True):
    """The archive of `args.archive` (clade.yaml's `archive:` section, filled in by the app)."""
    from pathlib import Path

    from archive.store import Archive

    return Archive.open(Path(args.archive.path), create=create, fsync=args.archive.fsync, repair=repair)


def cmd_candidates(args: argparse.Namespace) -> int:
    from archive.render import candidates_table

    with open_archive(args) as archive:
        rows = archive.candidates(
            split=args.split,
            status=args.status,
            kind=args.kind,
            proposer=args.proposer,
            top=args.top,
            session=args.session,
            verdict=args.review,
        )
        names = archive.source_names()
        hint = _empty_hint(archive, args) if not rows and not args.json else ""
    print(_json_list([r.to_json() for r in rows]) if args.json else candidates_table(rows, args.split, names) + hint)
    return 0


def _empty_hint(archive, args: argparse.Namespace) -> str:
    """Why a filtered listing is empty, when a near miss explains it."""
    if args.status == "rejected" and archive.candidates(verdict="rejected", top=1):
        return " with status rejected (refused by the planner); reviewers' rejections: clade candidates --review rejected"
    if args.session and not archive.candidates(session=args.session, top=1):
        return f" from session {args.session} (`clade sessions` lists the sessions)"
    return ""


def _json_list(items: list[dict]) -> str:
    """A JSON list, one object per line (the C encoder: fast for 10,000 candidates)."""
    return "[\n" + ",\n".join(json.dumps(item) for item in items) + "\n]" if items else "[]"


def cmd_show(args: argparse.Namespace) -> int:
    from archive.render import show_text

    with open_archive(args) as archive:
        candidate = archive.get(args.id)
        children = archive.children_counts([candidate.id]).get(candidate.id, 0)
        compared = [] if args.json else _relatives(archive, candidate)
        names = archive.source_names()
    print(candidate.model_dump_json(indent=1) if args.json else show_text(candidate, children, names, compared))
    return 0


def _relatives(archive, candidate) -> list:
    """(role, candidate): the parents, and the best source on the search split when it is not one of them."""
    rows = [("parent", archive.get(p)) for p in candidate.parents]
    best = archive.candidates(kind="source", status="succeeded", top=1)
    if candidate.kind != "source" and best and best[0].id not in candidate.parents:
        rows.append(("best source", archive.get(best[0].id)))
    return rows


def cmd_lineage(args: argparse.Namespace) -> int:
    from archive.render import lineage_text

    with open_archive(args) as archive:
        cid = archive.resolve(args.id)
        ancestors, descendants = archive.ancestors(cid), archive.descendants(cid)
        rows = {r.id: r for r in archive.candidates()}
    if args.json:
        print(json.dumps({"id": cid, "ancestors": ancestors, "descendants": descendants}, indent=1))
    else:
        print(lineage_text(cid, rows, descendants))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from archive.render import metric_rows, metrics_side_by_side

    with open_archive(args) as archive:
        a, b = archive.get(args.a), archive.get(args.b)
        note = archive.diff_note(a.id, b.id)
        text = "" if note else archive.diff(a.id, b.id)
        names = archive.source_names()
    if args.json:
        print(json.dumps({"a": a.id, "b": b.id, "metrics": metric_rows(a, b), "diff": text, "note": note}, indent=1))
        return 0
    genotype = note or text.rstrip("\n") or "(identical genotypes)"
    print(f"{metrics_side_by_side(a, b, names)}\n\n{genotype}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    with open_archive(args, repair=False) as archive:
        print(f"reindexed {archive.reindex()} candidates from {archive.git_dir}")
    return 0


def cmd_fsck(args: argparse.Namespace) -> int:
    from archive.check import check
    from tools.errors import BadInput

    with open_archive(args, repair=False) as archive:  # diagnose what opening would refuse to repair
        count, problems = check(archive)
    for problem in problems:
        print(problem)
    if problems:
        raise BadInput(f"{archive.git_dir}: {len(problems)} problems in {count} candidates (listed above)")
    print(f"ok: {count} candidates, objects and records sound")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from archive.sharing import push

    with open_archive(args) as archive:
        push(archive, args.remote)
    print(f"pushed to {args.remote}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from archive.sharing import pull

    with open_archive(args, create=True) as archive:
        print(f"pulled {pull(archive, args.remote)} new candidates from {args.remote}")
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from archive.sharing import bundle

    with open_archive(args) as archive:
        print(f"wrote {bundle(archive, args.file, force=args.force)}")
    return 0
