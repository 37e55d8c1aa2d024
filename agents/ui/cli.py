"""`clade ui [--port P] [--host H] [--token T] [--who NAME] [--model MODEL]`: the local web page.

Imports nothing heavy: the page only reads the archive (litellm is imported on the first
chat message, and only for a litellm model). A `scripted:FILE` chat model is read at start,
so a missing or malformed reply file is one line and exit 2 before anything is served.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys

TOKEN_ENV = "CLADE_UI_TOKEN"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ui",
        help="local web page: lineage, fitness, review, chat",
        description="Serve the workspace's page: session overview, lineage graph, candidate review, "
        "and a chat with the planner. It reads the archive live while a session runs.",
    )
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs a token)")
    p.add_argument(
        "--token",
        help=f"the token every request must carry (default: ${TOKEN_ENV}; on a non-loopback "
        "--host without one, a new token is generated and printed)",
    )
    p.add_argument("--who", help="the name recorded on reviews and chat proposals (default: your login name)")
    p.add_argument(
        "--model",
        metavar="MODEL",
        help="the chat's LLM, overriding planner.llm.model: a litellm model string, or scripted:FILE to replay canned replies offline",
    )
    p.set_defaults(handler=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    from agents.llm.factory import llm_config, planner_model
    from agents.llm.scripted_file import is_scripted
    from agents.ui.security import is_loopback
    from agents.ui.server import build_server
    from agents.workspace import load_workspace
    from tools.errors import BadInput

    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port {args.port}: not a port number (0 to 65535)")
    workspace = load_workspace(getattr(args, "workspace", None))
    token = args.token or os.environ.get(TOKEN_ENV) or (None if is_loopback(args.host) else secrets.token_urlsafe(24))
    llm = llm_config(workspace, args.model)
    model = planner_model(llm, workspace.root) if llm is not None and is_scripted(llm.model) else None
    server = build_server(workspace, host=args.host, port=args.port, token=token, model=model, llm=llm, who=args.who or _login_name())
    try:
        print(f"Clade UI for {workspace.root}: {server.login_url}  (Ctrl-C stops it)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.close()
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment (a container without a passwd entry)
        return "ui"
