"""taskorch: a task orchestrator for software work done with AI coding assistants.

The package is layered; dependencies point inward::

    mcp/, cli/      thin faces: validate, call a service, map results and errors
    services/       one module per capability, plain functions over the store
    specialists/    the role library (data files) and the router
    store/          SQLAlchemy Core tables, Alembic migrations, the database handle
    domain/         the pure model: statuses, transitions, the dependency graph
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("taskorch")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
