"""taskorch: a task orchestrator for software work done with AI coding assistants.

The package is layered; dependencies point inward::

    mcp/, cli/      thin faces: validate, call a service, map results and errors
    services/       one module per capability, plain functions over the store
    specialists/    the role library (data files) and the router
    store/          SQLAlchemy Core tables, Alembic migrations, the database handle
    domain/         the pure model: statuses, transitions, the dependency graph
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["__version__"]

if TYPE_CHECKING:
    __version__: str


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (importlib.metadata costs
    tens of milliseconds, which a command that never prints the version should not pay)."""
    if name != "__version__":
        raise AttributeError(f"module 'taskorch' has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version("taskorch")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        version = "0+unknown"
    globals()["__version__"] = version
    return version
