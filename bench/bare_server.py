"""The floor for the server benchmark: the MCP SDK's own server with one trivial tool, on stdio.

Run by ``bench/bench_server.py`` to measure what the SDK costs by itself (start-up, one round
trip, memory) before anything taskorch adds.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("bare")


@server.tool()
def echo(text: str = "") -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    server.run()
