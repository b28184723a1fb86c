"""The pure task model: no I/O, and nothing here imports another taskorch package but errors."""
