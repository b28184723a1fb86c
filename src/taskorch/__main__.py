"""``python -m taskorch`` runs the CLI."""

from taskorch.cli import main

main()
