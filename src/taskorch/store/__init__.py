"""Persistence: SQLAlchemy Core tables, Alembic migrations and the database handle.

SQLite (WAL) by default, PostgreSQL for teams. Nothing here knows about MCP or the CLI.
"""
