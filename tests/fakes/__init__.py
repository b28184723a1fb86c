"""Stateful fakes of the Git platforms' APIs for the test suite, checked against the platforms'
official OpenAPI descriptions. Fixtures are in :mod:`fakes.fixtures`."""

from standins.github import FAULTS, FakeGitHub, ManualClock, Project, ProjectField, ProjectItem, Recorded

from .openapi import SpecValidator, Violation

__all__ = [
    "FAULTS",
    "FakeGitHub",
    "ManualClock",
    "Project",
    "ProjectField",
    "ProjectItem",
    "Recorded",
    "SpecValidator",
    "Violation",
]
