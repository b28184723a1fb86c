"""A seeded project for the web view's tests, its benchmark and its screenshots, made through the
services only: epics of subtasks chained by dependencies (plus a few across epics), some work
started, completed, blocked and claimed, two release plans, and optionally a GitHub connection
(the stand-in) with open conflicts.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from standins.github import FakeGitHub
    from taskorch.services.app import Orchestrator

__all__ = ["Seeded", "git_project", "seed_project"]

ROLES = ("implementer", "tester", "reviewer", "documenter", "architect")
TOPICS = ("search", "billing", "login", "export", "alerts", "sharing", "backup", "reports", "audit", "themes")


@dataclass
class Seeded:
    """Task numbers of the seed: ``epics`` (parents), ``subtasks`` per epic, what was completed,
    started, blocked, and the conflicts opened."""

    epics: list[int] = field(default_factory=list)
    subtasks: dict[int, list[int]] = field(default_factory=dict)
    completed: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    blocked: list[int] = field(default_factory=list)
    conflicts: int = 0

    @property
    def total(self) -> int:
        return len(self.epics) + sum(len(s) for s in self.subtasks.values())


def seed_project(
    orch: Orchestrator, tasks: int = 50, *, per_epic: int = 9, fake_github: FakeGitHub | None = None
) -> Seeded:
    """Plan about ``tasks`` tasks (epics of ``per_epic`` subtasks) in the orchestrator's current
    session, move some of them, plan releases 1.0.0 and 1.1.0, and, with ``fake_github``, sync
    to it (the orchestrator must be connected to ``octo-org/shop``) and open two conflicts."""
    from taskorch.services.models import SubtaskSpec, TaskFields

    seeded = Seeded()
    epic_count = max(1, tasks // (per_epic + 1))
    for e in range(epic_count):
        topic = TOPICS[e % len(TOPICS)]
        specs = [
            SubtaskSpec(
                key=f"s{i}",
                title=f"{topic.title()} step {i + 1}",
                specialist_type=ROLES[i % len(ROLES)],
                labels=[topic, "web"] if i % 3 == 0 else [topic],
                depends_on_keys=[f"s{i - 1}"] if i % 4 else ([f"s{i - 2}"] if i >= 2 else []),
            )
            for i in range(per_epic)
        ]
        result = orch.plan_task(TaskFields(title=f"Ship {topic} #{e + 1}", labels=[topic]), specs)
        seeded.epics.append(result.task.id)
        seeded.subtasks[result.task.id] = [result.numbers[f"s{i}"] for i in range(per_epic)]
    # A few dependencies across epics: epic k's first step waits on epic k-1's third.
    for k in range(1, min(epic_count, 4)):
        first = seeded.subtasks[seeded.epics[k]][0]
        orch.update_task(first, {"depends_on": [seeded.subtasks[seeded.epics[k - 1]][2]]})
    # Work: the first epic done but one step, the second started, a blocked task, a claim.
    for index, epic in enumerate(seeded.epics[:2]):
        steps = seeded.subtasks[epic]
        for number in steps[: (per_epic - 1) if index == 0 else 2]:
            if _ready(orch, number):
                orch.execute_task(number)
                orch.complete_task(number, f"Did step {number}.", file_paths=[f"src/step_{number}.py"])
                seeded.completed.append(number)
    for epic in seeded.epics[1:2]:
        for number in seeded.subtasks[epic]:
            if _ready(orch, number):
                orch.execute_task(number)  # claimed by this caller, in progress
                seeded.started.append(number)
                break
    if len(seeded.epics) > 2:
        victim = seeded.subtasks[seeded.epics[2]][-1]
        orch.update_task(victim, {"status": "blocked", "status_reason": "waiting on the vendor's API key"})
        seeded.blocked.append(victim)
    orch.release_plan("1.0.0", included_features=seeded.epics[:2], description="The first two epics.")
    orch.release_plan("1.1.0", included_features=seeded.epics[2:3] or seeded.epics[:1], description="Next.")
    if fake_github is not None:
        orch.git_sync()
        for number in seeded.subtasks[seeded.epics[-1]][:2]:
            issue = _issue_number(orch, number)
            orch.update_task(number, {"title": f"Local title of {number}"})
            fake_github.edit_issue(issue, title=f"Remote title of {number}")
        synced = orch.git_sync()
        seeded.conflicts = len(synced.sync.conflicts) if synced.sync is not None else 0
    return seeded


def git_project(root: Path) -> Path:
    """``root`` made an empty Git repository with one commit (release plans need one)."""
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Seed", "GIT_AUTHOR_EMAIL": "seed@example.com"}
    env |= {"GIT_COMMITTER_NAME": "Seed", "GIT_COMMITTER_EMAIL": "seed@example.com"}
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "Start"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root


def _ready(orch: Orchestrator, number: int) -> bool:
    task = orch.get_task(number)
    return task.status.value == "pending" and all(orch.get_task(d).status.value == "completed" for d in task.depends_on)


def _issue_number(orch: Orchestrator, number: int) -> Any:
    shown = orch.show_task(number)
    assert shown.issue is not None and shown.issue.issue_number is not None
    return shown.issue.issue_number
