"""``python -m taskorch`` runs the CLI."""

from taskorch.cli.app import main

main()
