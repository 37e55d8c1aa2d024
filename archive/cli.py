"""Subcommands of this layer (stub: registers nothing yet)."""


def register(subparsers) -> None:
    return None
