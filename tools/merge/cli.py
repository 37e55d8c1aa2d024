"""`clade merge` (stub until the engine lands)."""


def register(subparsers) -> None:
    return None
