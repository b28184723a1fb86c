"""Keeping tasks in step with a Git platform: outbox, push, pull, three-way merge, conflicts.

Nothing here is imported unless the integration is enabled, so a disabled integration costs
neither start-up time nor a query.
"""
