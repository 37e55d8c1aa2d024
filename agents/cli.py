"""The `clade` command.

Each package owns the subcommands of its layer in a light `cli.py` module exposing
`register(subparsers)`. A lower layer's command never reads clade.yaml: its parser names what it
needs (`set_defaults(needs=...)`) and `main` fills that in from the workspace
(agents.workspace.provide). Those modules import nothing heavy at module level: torch,
transformers and litellm are imported inside the handlers that need them, so read-only
commands and `clade --help` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from tools.errors import CladeError

# Order is the order of `clade --help`.
CLI_MODULES = (
    "agents.init_cmd",
    "tools.merge.cli",
    "tools.evaluate.cli",
    "archive.cli",
    "sandbox.cli",
    "agents.run_cmd",
    "agents.sessions_cmd",
    "agents.sources_cmd",
    "agents.review.cli",
    "agents.chat.cli",
    "agents.ui.cli",
)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`clade run: error: ...; see clade run --help`), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="clade",
        description="Breed better models: merge recipes and code edits, sandboxed, with a git lineage archive.",
    )
    parser.add_argument(
        "--workspace", metavar="DIR", help="workspace holding clade.yaml (default: nearest parent of the current directory)"
    )
    parser.add_argument("--version", action="version", version=f"clade {clade_version()} (Python {sys.version.split()[0]})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in CLI_MODULES:
        importlib.import_module(name).register(sub)
    _add_workspace_option(parser)
    return parser


def clade_version() -> str:
    """The version of this Clade: its checkout's pyproject.toml when run from a source tree, else the installed package's."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "clade" and project.get("version"):
            return str(project["version"])
    except (OSError, tomllib.TOMLDecodeError):
        pass
    try:
        return metadata.version("clade")
    except metadata.PackageNotFoundError:
        return "unknown (neither installed nor run from a checkout)"


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
        from agents.workspace import provide

        provide(args)  # what a lower layer's command needs of the workspace (resolving one is the app's job)
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
