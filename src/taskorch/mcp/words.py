"""The MCP face's wording of hints: tool names with the ``orchestrator_`` prefix and arguments.

``Hint("update_task", {"task_id": 3, "depends_on": []})`` reads
``orchestrator_update_task with task_id=3, depends_on=[]``; a ``Param`` reads as the argument's
name. See :mod:`taskorch.hints`.
"""

from __future__ import annotations

from taskorch.hints import REQUIRED, Hint, Param, value_text

__all__ = ["MCP_WORDS", "PREFIX"]

PREFIX = "orchestrator_"


class McpWords:
    """Tools and arguments, as an assistant calls them."""

    def call(self, hint: Hint) -> str:
        verb, args = hint.verb, dict(hint.args)
        if verb == "show_task":  # one task is read through query_tasks
            verb, args = "query_tasks", {"task_ids": [args["task_id"]]} if "task_id" in args else {}
        shown = [name if value is REQUIRED else f"{name}={value_text(value)}" for name, value in args.items()]
        return PREFIX + verb + (" with " + ", ".join(shown) if shown else "")

    def param(self, param: Param) -> str:
        return param.name if param.value is None else f"{param.name}={value_text(param.value)}"


#: The wording of every message and next step the MCP server returns.
MCP_WORDS = McpWords()
