"""The CLI face of taskorch (Typer and Rich)."""
