"""The MCP face of taskorch."""
