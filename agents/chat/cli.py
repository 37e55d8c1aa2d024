"""`clade chat [--message TEXT] [--max-tokens N] [--who NAME]`: talk to the planner about the archive.

A REPL on stdin/stdout (one question per line; EOF ends it), or one question with
`--message`. Every action the planner takes is printed as it happens (and appended to
`.clade/chat/actions.jsonl`). Needs `planner.llm` in clade.yaml or `--model`: without either,
one line and exit 2. `scripted:FILE` replays canned replies offline (the tiny zoo ships
chat-replies.json). A question that fails is one line on stderr; the chat exits non-zero
(the REPL goes on to the next question first). litellm is imported only for a litellm model.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

PROMPT = "you> "


def register(subparsers) -> None:
    p = subparsers.add_parser("chat", help="talk to the planner about the archive; it can propose candidates and edit the brief")
    p.add_argument("--message", "-m", metavar="TEXT", help="ask one question, print the answer and exit (no REPL)")
    p.add_argument(
        "--max-tokens", type=int, default=200_000, metavar="N", help="LLM tokens (prompt + completion) this chat may spend (default 200000)"
    )
    p.add_argument("--who", help="your name in the action log and on proposals (default: your login name)")
    p.add_argument(
        "--model",
        metavar="MODEL",
        help="the LLM, overriding planner.llm.model: a litellm model string, or scripted:FILE to replay canned replies offline",
    )
    p.set_defaults(handler=cmd_chat, needs="archive")


def cmd_chat(args: argparse.Namespace) -> int:
    from agents.chat.agent import ChatAgent
    from agents.llm.factory import llm_config, planner_model
    from agents.workspace import load_workspace
    from archive.cli import open_archive
    from tools.errors import BadInput

    workspace = load_workspace(getattr(args, "workspace", None))
    llm = llm_config(workspace, args.model)
    if llm is None:
        raise BadInput(
            f"{workspace.root / 'clade.yaml'}: no planner.llm configured; `clade chat` needs an LLM "
            "(add planner: {llm: {model: ..., api_key_env: ...}}, or pass --model scripted:FILE to replay canned replies)"
        )
    model = planner_model(llm, workspace.root)
    with open_archive(args) as archive:
        agent = ChatAgent(model, workspace, archive, who=args.who or getpass.getuser(), max_tokens=args.max_tokens, on_action=show_action)
        return converse(agent, args.message)


def converse(agent, message: str | None) -> int:
    """One question (`message`), or questions from stdin until EOF. A failed question ends a one-shot
    chat with its error; the REPL says why and goes on, and exits with the worst failure's code."""
    from agents.errors import BudgetExceeded
    from tools.errors import CladeError

    questions = [message] if message is not None else _stdin_questions()
    code = 0
    for question in questions:
        try:
            print(f"planner> {agent.send(question).reply}", flush=True)
        except BudgetExceeded as exc:
            print(f"clade: chat stopped: {exc}", file=sys.stderr)
            return 2
        except CladeError as exc:
            if message is not None:
                raise
            print(f"clade: error: {exc}", file=sys.stderr)
            code = max(code, exc.exit_code)
    return code


def _stdin_questions():
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print(PROMPT, end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        if line.strip():
            yield line.strip()


def show_action(action) -> None:
    args = json.dumps(action.args, ensure_ascii=False)
    print(f"  [{action.tool}] {args if len(args) <= 200 else args[:200] + '...'} -> {summarize(action.tool, action.result)}", flush=True)


def summarize(tool: str, result) -> str:
    if isinstance(result, dict) and "error" in result:
        return f"error: {result['error']}"
    if tool == "propose":
        fit = f", fitness {result['fitness']:.4f}" if result.get("fitness") is not None else ""
        return f"recorded candidate {result['id']} ({'queued for the next run' if result.get('queued') else result['status']}{fit})"
    if tool == "edit_brief":
        return f"{result['brief']} rewritten ({result['was_chars']} -> {result['chars']} characters)"
    return f"{len(result)} items" if isinstance(result, list) else "ok"
