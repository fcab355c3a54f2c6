"""The shape of a click command tree: every command path with its parameters.

A change of where commands live (entry points, lazy loading) must not change what a user can
type; ``test_command_tree.py`` compares both CLIs with the snapshot taken before such a change.
"""

from __future__ import annotations

import json
from typing import Any


def command_tree(command: Any, path: str = "") -> dict[str, list[list[Any]]]:
    """``{"admin register": [[name, opts, required, is_flag, multiple], ...], ...}``."""
    params = sorted(
        [
            param.name or "",
            sorted(param.opts + getattr(param, "secondary_opts", [])),
            bool(param.required),
            bool(getattr(param, "is_flag", False)),
            bool(param.multiple),
        ]
        for param in command.params
        if param.name != "help"
    )
    tree: dict[str, list[list[Any]]] = {path or "<root>": params}
    if hasattr(command, "list_commands"):  # a group (typer vendors its own click)
        context = command.context_class(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                tree |= command_tree(sub, f"{path} {name}".strip())
    return tree


def dump(trees: dict[str, dict[str, list[list[Any]]]]) -> str:
    """One line per command, so a diff of the snapshot reads as a list of changed commands."""
    lines = ["{"]
    for i, (cli, tree) in enumerate(sorted(trees.items())):
        lines.append(f" {json.dumps(cli)}: {{")
        entries = sorted(tree.items())
        for j, (path, params) in enumerate(entries):
            comma = "," if j < len(entries) - 1 else ""
            lines.append(f"  {json.dumps(path)}: {json.dumps(params)}{comma}")
        lines.append(" }" + ("," if i < len(trees) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"
