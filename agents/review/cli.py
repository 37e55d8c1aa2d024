"""Subcommands of review:

    clade review [--top K] [--details] [--json]    candidates awaiting review, best first (a table)
    clade approve ID [--comment TEXT] [--who NAME]
    clade reject ID --reason TEXT [--who NAME]
    clade export ID OUT_DIR [--json]               an approved candidate: HF model dir + card, or its code tree

Only `export` imports torch (inside its handler, through the merge engine).
"""

from __future__ import annotations

import argparse
import getpass
import json


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of candidates, 1 or more")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("review", help="candidates awaiting review, best first: a table (details: clade show ID)")
    p.add_argument("--top", type=_positive, metavar="K", help="only the K best")
    p.add_argument("--details", action="store_true", help="each candidate in full: genotype, metrics beside its parents', cost, log")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_review, needs="archive")
    p = subparsers.add_parser("approve", help="approve a succeeded candidate (recorded in the archive; the planner reads it)")
    p.add_argument("id")
    p.add_argument("--comment", default="", help="a note for the planner and other reviewers")
    p.add_argument("--who", help="reviewer name (default: your login name)")
    p.set_defaults(handler=cmd_approve, needs="archive")
    p = subparsers.add_parser("reject", help="reject a candidate, saying why (the planner reads it)")
    p.add_argument("id")
    p.add_argument("--reason", required=True, help="why it is rejected")
    p.add_argument("--who", help="reviewer name (default: your login name)")
    p.set_defaults(handler=cmd_reject, needs="archive")
    p = subparsers.add_parser("export", help="an approved merge as a Hugging Face model directory with a model card (code: its tree)")
    p.add_argument("id")
    p.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty directory")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(handler=cmd_export, needs="archive")


def _who(args: argparse.Namespace) -> str:
    return args.who or getpass.getuser()


def cmd_review(args: argparse.Namespace) -> int:
    from agents.review.actions import awaiting_review
    from agents.review.render import item_json, review_table, review_text
    from archive.cli import open_archive

    with open_archive(args) as archive:
        items = awaiting_review(archive, top=args.top)
    text = review_text(items) if args.details else review_table(items)
    print(json.dumps([item_json(i) for i in items], indent=1) if args.json else text)
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from agents.review.actions import approve
    from archive.cli import open_archive

    with open_archive(args) as archive:
        c = approve(archive, args.id, comment=args.comment, who=_who(args))
    print(f"approved {c.id} as {c.reviews[-1].who} at {c.reviews[-1].at.isoformat()}")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    from agents.review.actions import reject
    from archive.cli import open_archive

    with open_archive(args) as archive:
        c = reject(archive, args.id, reason=args.reason, who=_who(args))
    print(f"rejected {c.id} as {c.reviews[-1].who} at {c.reviews[-1].at.isoformat()}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from agents.review.export import export
    from agents.workspace import load_workspace
    from archive.cli import open_archive

    workspace = load_workspace(getattr(args, "workspace", None))
    with open_archive(args) as archive:
        report = export(workspace, archive, args.id, args.out_dir)
    if args.json:
        print(report.model_dump_json(indent=1))
    else:
        print(
            f"exported {report.kind} candidate {report.id} to {report.out_dir} ({len(report.files)} files"
            + (f", merge seed {report.seed})" if report.seed is not None else ")")
        )
    return 0
