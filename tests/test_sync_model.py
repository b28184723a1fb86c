"""A randomized model test of the sync, on every platform, with fixed seeds and a bounded number
of steps.

Each step is one of: a local edit (title, status, labels, assignee) made through the services, a
remote edit made by a "person" directly on the stand-in (title, status label, labels, assignee),
or a sync with faults injected first (5xx, dropped connections before and after the change is
applied, 429). The test keeps, per task, field and side, the net edit since both sides last
agreed (``None`` once an edit returns the field to the agreed base, so a change undone is no
change), and forgets both once the sync leaves the field agreed. After a final quiet sync it
asserts: no duplicate issue (one marker per task, one issue per task), no lost edit (a field
edited on one side has that value on both, or is an open conflict; edited on both, it is an open
conflict), every linked field equal on both sides or an open conflict, every sub-issue present,
and that one more sync finds nothing to do. Values are unique per edit (titles, labels and
assignees named after the step) except the status. Everything runs in process with no sleep (the
engine's sleep is injected); process kills are the crash test's job (tests/test_sync_crash.py).
On Jira a status edit is a person moving the issue through a workflow with a Blocked status and
directed transitions, the marker lives in the issue property, and the local and remote planning
facts (priority, due date, estimate) are push-only, so not among the fields compared (see
tests/sync_platforms.py and taskorch.sync.mapping). Jira runs the same seeds and steps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync_platforms import PLATFORMS, Harness, Issue, harness
from taskorch.config import Settings
from taskorch.errors import TaskorchError
from taskorch.platforms.registry import platform_spec
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.tables import feature_issue_links, sync_conflicts
from taskorch.sync import mapping

SEEDS = [11, 23, 37]
STEPS = 40
SUBTASKS = 4
USERS = [f"u{step}" for step in range(40)]
FAULTS = ["500", "502", "503", "drop_before", "drop_after", "429"]
FIELDS = ("title", "status", "labels", "assignees")
#: Final syncs allowed to converge once the faults stop.
FINAL_RUNS = 5


class Model:
    """The orchestrator, the stand-in, and the last edit of each (task, field)."""

    def __init__(self, orch: Orchestrator, stand_in: Harness, rng: random.Random, tasks: list[int], seed: int) -> None:
        self.seed = seed
        self.orch = orch
        self.stand_in = stand_in
        self.rng = rng
        self.tasks = tasks
        self.subtasks = tasks[1:]
        self.conventions = platform_spec(stand_in.platform).conventions
        #: (task, field) -> {"local": value, "remote": value}: the net edit of each side since they agreed.
        self.edits: dict[tuple[int, str], dict[str, Any]] = {}
        self.made = {"local": 0, "remote": 0, "faults": 0}

    # -- reading both sides ---------------------------------------------------------------------

    def links(self) -> dict[int, int]:
        with self.orch.db.transaction(write=False) as conn:
            rows = conn.execute(select(feature_issue_links.c.task_id, feature_issue_links.c.issue_number))
            return {task: number for task, number in rows if number is not None}

    def open_conflicts(self) -> set[tuple[int, str]]:
        with self.orch.db.transaction(write=False) as conn:
            rows = conn.execute(
                select(sync_conflicts.c.task_id, sync_conflicts.c.field).where(sync_conflicts.c.status == "open")
            )
            return {(task, field) for task, field in rows}

    def base(self, task: int) -> dict[str, Any]:
        """The values both sides last agreed on, in the form :meth:`local` gives."""
        with self.orch.db.transaction(write=False) as conn:
            row = conn.execute(select(feature_issue_links.c.base).where(feature_issue_links.c.task_id == task)).first()
        agreed = dict(row[0] or {}) if row is not None else {}
        return {
            "title": agreed.get("title"),
            "status": agreed.get("status"),
            "labels": tuple(sorted(label.casefold() for label in agreed.get("labels") or [])),
            "assignees": tuple(sorted(agreed.get("assignees") or [])),
        }

    def record(self, task: int, field: str, side: str, value: Any) -> None:
        """Note a side's edit: its net value, or ``None`` when it is the agreed one again."""
        self.made[side] += 1
        net = None if value == self.base(task)[field] else value
        self.edits.setdefault((task, field), {"local": None, "remote": None})[side] = net

    def settle(self) -> None:
        """Check, then forget, the edits of the fields a sync left agreed on both sides: agreed
        on the edited value, never over an edit of the other side."""
        links = self.links()
        issues = self.stand_in.issues()
        for task, number in links.items():
            local, remote, base = self.local(task), self.remote(issues[number]), self.base(task)
            for field in FIELDS:
                if local[field] == remote[field] == base[field]:
                    self.check(task, field, self.edits.pop((task, field), None), local[field])

    def check(self, task: int, field: str, edit: dict[str, Any] | None, agreed: Any) -> None:
        """A field both sides agree on (``agreed``) lost no edit: not both sides changed it
        differently, and a side's change is the agreed value."""
        if edit is None:
            return
        local_edit, remote_edit = edit["local"], edit["remote"]
        assert local_edit is None or remote_edit is None or local_edit == remote_edit, (
            f"task {task}'s {field} changed on both sides ({local_edit!r}, {remote_edit!r}) and was settled "
            f"on {agreed!r} without a conflict (seed {self.seed})"
        )
        wanted = local_edit if local_edit is not None else remote_edit
        assert wanted is None or agreed == wanted, (
            f"the edit of task {task}'s {field} to {wanted!r} was lost: both sides have {agreed!r} (seed {self.seed})"
        )

    def local(self, task: int) -> dict[str, Any]:
        view = self.orch.get_task(task)
        return {
            "title": view.title,
            "status": view.status,
            "labels": tuple(sorted(label.casefold() for label in view.labels)),
            "assignees": tuple(sorted(view.assignees)),
        }

    def remote(self, issue: Issue) -> dict[str, Any]:
        user_labels = [label for label in issue.labels if mapping.label_kind(label, [], self.conventions) == "labels"]
        from taskorch.platforms.base import RemoteIssue

        as_remote = RemoteIssue(
            number=issue.number,
            id=0,
            node_id="",
            url="",
            title=issue.title,
            body="",
            state="open" if issue.state == "open" else "closed",
            state_reason=None,
            labels=issue.labels,
            assignees=issue.assignees,
            milestone=None,
            updated_at=self.orch.clock(),
        )
        return {
            "title": issue.title,
            "status": mapping.remote_status(as_remote, self.conventions),
            "labels": tuple(sorted(label.casefold() for label in user_labels)),
            "assignees": tuple(sorted(issue.assignees)),
        }

    # -- steps ----------------------------------------------------------------------------------

    def local_edit(self, step: int) -> None:
        task = self.rng.choice(self.subtasks)
        field = self.rng.choice(FIELDS)
        try:
            if field == "title":
                self.orch.update_task(task, {"title": f"local {step}"})
            elif field == "labels":
                self.orch.update_task(task, {"labels": [f"local-{step}"] if self.rng.random() < 0.8 else []})
            elif field == "assignees":
                self.orch.update_task(task, {"assignees": [USERS[step]] if self.rng.random() < 0.8 else []})
            else:
                current = self.orch.get_task(task).status
                if current == "pending" and self.rng.random() < 0.5:
                    self.orch.execute_task(task)
                else:
                    self.orch.update_task(task, {"status": "pending" if current == "blocked" else "blocked"})
        except TaskorchError:
            return  # a move the task cannot make: no edit
        self.record(task, field, "local", self.local(task)[field])

    def remote_edit(self, step: int) -> None:
        links = self.links()
        candidates = [t for t in self.subtasks if t in links]
        if not candidates:
            return
        task = self.rng.choice(candidates)
        number = links[task]
        issue = self.stand_in.issues()[number]
        field = self.rng.choice(FIELDS)
        kept = [label for label in issue.labels if mapping.label_kind(label, [], self.conventions) != "labels"]
        if field == "title":
            self.stand_in.edit(number, title=f"remote {step}")
        elif field == "labels":
            self.stand_in.edit(number, labels=[*kept, *([f"remote-{step}"] if self.rng.random() < 0.8 else [])])
        elif field == "assignees":
            self.stand_in.edit(number, assignees=[USERS[step]] if self.rng.random() < 0.8 else [])
        else:
            # A person moves the card: one status label replaces the other (a board list move).
            status = self.rng.choice(["pending", "in_progress", "blocked"])
            label = self.stand_in.status_label(status)
            others = [label for label in issue.labels if mapping.label_kind(label, [], self.conventions) != "status"]
            self.stand_in.edit(number, labels=[*others, *([label] if label else [])])
        self.record(task, field, "remote", self.remote(self.stand_in.issues()[number])[field])

    def sync_with_faults(self) -> None:
        for _ in range(self.rng.randint(0, 3)):
            self.made["faults"] += 1
            self.stand_in.inject(
                self.rng.choice(FAULTS), method=self.rng.choice(["POST", "PATCH", "GET", None]), times=1
            )
        self.orch.git_sync()
        self.settle()


@pytest.fixture(params=PLATFORMS)
def stand_in(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with harness(request.param) as made:
        for user in USERS:
            made.add_user(user)
        yield made


@pytest.mark.parametrize("seed", SEEDS)
def test_random_edits_on_both_sides_with_faults_converge_without_loss(
    seed: int, stand_in: Harness, tmp_path: Path, project: Path
) -> None:
    rng = random.Random(seed)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'model.db'}",
        mutation_spacing=0.0,
        max_retry_wait=5,
        **stand_in.settings_overrides(),
    )
    orch = Orchestrator(settings, platform_factory=stand_in.factory(), sleep=lambda seconds: None)
    try:
        orch.initialize_session(str(project))
        orch.git_connect(stand_in.repository, api_token_name="MODEL_TEST_TOKEN", auto_sync_enabled=True)
        planned = orch.plan_task(
            TaskFields(title="Model feature"), [SubtaskSpec(key=f"t{i}", title=f"Task {i}") for i in range(SUBTASKS)]
        )
        tasks = [planned.task.id, *(brief.id for brief in planned.subtasks.values())]
        model = Model(orch, stand_in, rng, tasks, seed)
        orch.git_sync()
        for step in range(STEPS):
            roll = rng.random()
            if roll < 0.4:
                model.local_edit(step)
            elif roll < 0.75:
                model.remote_edit(step)
            else:
                model.sync_with_faults()

        missed = stand_in.fake.clear_faults()  # the final runs are quiet
        hit = model.made["faults"] - missed
        print(f"model test {stand_in.platform} seed {seed}: {model.made}, {hit} faults hit", flush=True)
        assert model.made["local"] >= 5 and model.made["remote"] >= 5 and hit >= 3, model.made
        for _run in range(FINAL_RUNS):
            result = orch.git_sync().sync
            assert result is not None
            model.settle()
            if result.pending == 0 and not result.failed:
                break
        else:
            pytest.fail(f"no convergence in {FINAL_RUNS} quiet runs (seed {seed}): {result.failed[:3]}")
        quiet = orch.git_sync().sync
        assert quiet is not None and not quiet.updated and not quiet.pulled and not quiet.created, quiet

        issues = stand_in.issues()
        links = model.links()
        assert sorted(links) == sorted(tasks), "every task has its issue"
        markers = [issue.marker for issue in issues.values()]
        assert len(issues) == len(tasks) and len(set(markers)) == len(tasks), f"duplicates (seed {seed})"
        conflicts = model.open_conflicts()
        print(f"  open conflicts: {sorted(conflicts)}", flush=True)
        for task, number in links.items():
            local, remote = model.local(task), model.remote(issues[number])
            for field in FIELDS:
                if (task, field) in conflicts:
                    continue
                assert local[field] == remote[field], f"task {task} {field}: {local[field]} != {remote[field]}"
        for (task, field), edit in model.edits.items():
            if (task, field) not in conflicts:
                model.check(task, field, edit, model.local(task)[field])
        assert sorted(stand_in.children(links[tasks[0]])) == sorted(links[t] for t in tasks[1:])
    finally:
        orch.close()
