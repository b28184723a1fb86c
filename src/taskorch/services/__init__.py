"""The library behind both faces: one module per capability, plain functions over the store.

:class:`taskorch.services.app.Orchestrator` is the entry point the MCP server and the CLI share;
each of its public methods is one tool, run as one transaction.
"""
