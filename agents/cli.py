"""The `clade` command.

Each package owns the subcommands of its layer in a light `cli.py` module exposing
`register(subparsers)`. Those modules import nothing heavy at module level: torch,
transformers and litellm are imported inside the handlers that need them, so read-only
commands and `clade --help` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tools.errors import CladeError

# Order is the order of `clade --help`.
CLI_MODULES = (
    "agents.init_cmd",
    "tools.merge.cli",
    "tools.evaluate.cli",
    "archive.cli",
    "sandbox.cli",
    "agents.run_cmd",
    "agents.review.cli",
    "agents.chat.cli",
    "agents.ui.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clade",
        description="Breed better models: merge recipes and code edits, sandboxed, with a git lineage archive.",
    )
    parser.add_argument("--workspace", metavar="DIR", help="workspace holding clade.yaml (default: nearest parent of the current directory)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in CLI_MODULES:
        importlib.import_module(name).register(sub)
    _add_workspace_option(parser)
    return parser


def _add_workspace_option(parser: argparse.ArgumentParser) -> None:
    """Let `--workspace DIR` also follow any (sub)command, without overriding an earlier one."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in action.choices.values():
            if not any("--workspace" in a.option_strings for a in child._actions):
                child.add_argument("--workspace", metavar="DIR", default=argparse.SUPPRESS, help="workspace holding clade.yaml")
            _add_workspace_option(child)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CladeError as exc:
        print(f"clade: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("clade: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`clade candidates --json | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
