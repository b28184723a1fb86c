"""Release coordination: plan a release from finished work, put its issues on a milestone, write
its notes, tag it and publish it on the platform.

``tag_release`` is a sequence of idempotent steps (notes, tag, push, platform release, milestone,
completion). Each step is recorded in the plan's ``steps`` before and after it runs, in
``sync_status_logs`` and in the audit trail, so a run that fails or is killed midway is finished by
running it again: an existing tag made by this plan is adopted, an existing release of the tag is
updated instead of created twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, insert, select, update

from taskorch.domain.model import ACTIVE_STATUSES, TaskStatus
from taskorch.errors import Conflict, InvalidInput, NotFound, TaskorchError
from taskorch.hints import Hint, Param
from taskorch.release import changelog as notes_lib
from taskorch.release import keys, versioning
from taskorch.release.git import GitRepo, check_remote_name
from taskorch.services import views
from taskorch.services.models import BlockedTask, Readiness, ReleaseResult, ReleaseStep, ReleaseView
from taskorch.store import repository as repo
from taskorch.store.tables import (
    feature_issue_links,
    git_integration_config,
    release_milestones,
    sync_status_logs,
    task_dependencies,
    tasks,
)

__all__ = ["ReleaseService"]

Template = Literal["automated", "manual", "hybrid"]
TOOL = "release_coordinator"
#: The milestone step of a Jira connection: the version is the milestone, released in the release step.
JIRA_MILESTONE = "the Jira version is the milestone: released in the release step"
#: Step details that mean the step does not apply to this run.
_NOT_RUN = frozenset({"not asked", "no platform connected", "no platform milestone", JIRA_MILESTONE})


def release_view(row: RowMapping, numbers: Mapping[int, int]) -> ReleaseView:
    """The plan ``row``; ``numbers`` maps its included tasks' internal ids to their numbers."""
    return ReleaseView(
        name=row["name"],
        version=row["version"],
        status=row["status"],
        description=row["description"],
        target_date=row["target_date"],
        included_features=[numbers[i] for i in row["included_features"] or [] if i in numbers],
        previous_tag=row["previous_tag"],
        platform_milestone_id=row["platform_milestone_id"],
        tag_sha=row["tag_sha"],
        release_url=row["release_url"],
        notes=row["notes"],
    )


class ReleaseService:
    """Release plans of the sessions in one database.

    ``write`` opens a write transaction that also captures outbox entries (the orchestrator's),
    ``git`` is the platform integration (:class:`~taskorch.services.git.GitService`).
    """

    def __init__(
        self,
        db: Any,
        git: Any,
        write: Callable[[], AbstractContextManager[Connection]],
        *,
        clock: Callable[[], datetime] = repo.utcnow,
    ) -> None:
        self.db = db
        self.git = git
        self.write = write
        self.clock = clock

    # -- helpers ----------------------------------------------------------------------------

    def _view(self, row: RowMapping) -> ReleaseView:
        """The plan as published: its included tasks named by their numbers."""
        with self.db.transaction(write=False) as conn:
            return release_view(row, repo.numbers_of(conn, row["included_features"] or []))

    def _plan(self, conn: Connection, session_id: int, version: str | None) -> RowMapping:
        query_ = select(release_milestones).where(release_milestones.c.session_id == session_id)
        if version is not None:
            name = versioning.tag_name(versioning.parse_version(version))
            row = conn.execute(query_.where(release_milestones.c.name == name)).mappings().first()
            if row is None:
                raise NotFound(
                    (
                        f"no release plan for {name}. Create it with ",
                        Hint("release_coordinator", {"action": "plan_release", "version": name}),
                        ".",
                    )
                )
            return row
        row = (
            conn.execute(
                query_.where(release_milestones.c.status.in_(["planning", "active"])).order_by(
                    release_milestones.c.id.desc()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(
                ("no open release plan. Create one with ", Hint("release_coordinator", {"action": "plan_release"}), ".")
            )
        return row

    def _log(self, conn: Connection, session_id: int, operation: str, status: str, detail: str | None = None) -> None:
        at = self.clock()
        config = conn.execute(
            select(git_integration_config.c.platform, git_integration_config.c.repository_url).where(
                git_integration_config.c.session_id == session_id
            )
        ).first()
        conn.execute(
            insert(sync_status_logs).values(
                session_id=session_id,
                operation_type="milestone_sync",
                operation=operation,
                platform=config[0] if config else "git",
                repository=config[1] if config else "local",
                operation_status=status,
                records_processed=1 if status == "completed" else 0,
                errors_encountered=1 if status == "failed" else 0,
                requests=0,
                error_details=detail if status == "failed" else None,
                started_at=at,
                completed_at=at,
            )
        )

    def _audit(self, conn: Connection, session_id: int, action: str, changes: dict[str, Any]) -> None:
        repo.record_event(
            conn, session_id=session_id, task_id=None, tool=TOOL, action=action, changes=changes, at=self.clock()
        )

    def _has_platform(self, conn: Connection, session_id: int) -> bool:
        return (
            conn.execute(
                select(git_integration_config.c.id).where(git_integration_config.c.session_id == session_id)
            ).first()
            is not None
        )

    def _subtree_rows(self, conn: Connection, task_ids: Sequence[int]) -> list[RowMapping]:
        ids: list[int] = []
        for task_id in task_ids:
            ids += [i for i in repo.subtree_ids(conn, task_id) if i not in ids]
        rows = repo.get_tasks(conn, ids)
        return [rows[i] for i in ids if i in rows and not rows[i]["archived"]]

    def readiness(self, conn: Connection, session_id: int, included: Sequence[int]) -> Readiness:
        rows = self._subtree_rows(conn, included)
        done = [views.brief(r) for r in rows if r["status"] == TaskStatus.COMPLETED.value]
        active = [r for r in rows if r["status"] in ACTIVE_STATUSES]
        blocked = []
        for row in active:
            if row["status"] == TaskStatus.BLOCKED.value or row["unmet_dependencies"] > 0:
                blockers = [
                    views.brief(b)
                    for b in conn.execute(
                        select(tasks)
                        .join(task_dependencies, task_dependencies.c.depends_on_id == tasks.c.id)
                        .where(task_dependencies.c.task_id == row["id"], tasks.c.status != TaskStatus.COMPLETED.value)
                    ).mappings()
                ]
                reason = row["status_reason"] or (
                    "marked blocked" if row["status"] == TaskStatus.BLOCKED.value else "waiting on dependencies"
                )
                blocked.append(BlockedTask(task=views.brief(row), blockers=blockers, reason=reason))
        blocked_ids = {b.task.id for b in blocked}
        linked = {
            r[0]
            for r in conn.execute(
                select(feature_issue_links.c.task_id).where(
                    feature_issue_links.c.task_id.in_(list(included)), feature_issue_links.c.issue_number.is_not(None)
                )
            )
        }
        without_issue: list[int] = []
        if self._has_platform(conn, session_id):
            numbers = repo.numbers_of(conn, [i for i in included if i not in linked])
            without_issue = [numbers[i] for i in included if i in numbers]
        return Readiness(
            ready=not active,
            done=done,
            open=[views.brief(r) for r in active if r["number"] not in blocked_ids],
            blocked=blocked,
            without_issue=without_issue,
        )

    def preview(self, conn: Connection, plan: RowMapping) -> tuple[Readiness, str, list[int]]:
        """Read only, for a release plan row: its readiness, its notes (as stored by the last
        generate_changelog, else the automated section from its completed tasks, commits not
        read), and the internal ids of its tasks and their subtasks."""
        included = list(plan["included_features"] or [])
        readiness = self.readiness(conn, plan["session_id"], included)
        notes = plan["notes"] or notes_lib.render_section(
            plan["name"], self.clock().date().isoformat(), self._task_entries(conn, included), template="automated"
        )
        return readiness, notes, [r["id"] for r in self._subtree_rows(conn, included)]

    def _task_entries(self, conn: Connection, included: Sequence[int]) -> list[notes_lib.Entry]:
        rows = repo.get_tasks(conn, included)
        labels = repo.labels_of(conn, list(rows))
        links = {
            r.task_id: (r.issue_number, r.issue_url)
            for r in conn.execute(
                select(
                    feature_issue_links.c.task_id, feature_issue_links.c.issue_number, feature_issue_links.c.issue_url
                ).where(feature_issue_links.c.task_id.in_(list(rows)))
            )
        }
        return notes_lib.task_entries(
            {
                "id": rows[task_id]["number"],
                "title": rows[task_id]["title"],
                "task_type": rows[task_id]["task_type"],
                "labels": labels[task_id],
                "issue_number": links.get(task_id, (None, None))[0],
                "issue_url": links.get(task_id, (None, None))[1],
            }
            for task_id in included
            if task_id in rows and rows[task_id]["status"] == TaskStatus.COMPLETED.value
        )

    # -- plan_release -----------------------------------------------------------------------

    def plan_release(
        self,
        session_id: int,
        project_root: str,
        *,
        version: str | None,
        included: Sequence[int] | None,
        target_date: date | None,
        description: str | None,
    ) -> ReleaseResult:
        """Create or update the plan of a release, with its readiness report.

        Without ``version`` the next one is proposed from the included work and the commits since
        the previous tag. Raises :class:`InvalidInput` (not SemVer, unknown task), :class:`Conflict`
        (the tag exists already, the plan is completed).
        """
        git = GitRepo(project_root)
        tags = git.tags()
        previous = versioning.latest(tags)
        with self.db.transaction(write=False) as conn:
            chosen = list(dict.fromkeys(included)) if included is not None else self._default_included(conn, session_id)
            for index, task_id in enumerate(chosen):
                row = conn.execute(
                    select(tasks.c.session_id, tasks.c.archived, tasks.c.number).where(tasks.c.id == task_id)
                ).first()
                if row is None or row[0] != session_id or row[1]:
                    shown = f"task {row[2]}" if row is not None and row[0] == session_id else "a task"
                    raise InvalidInput(
                        f"included_features[{index}]",
                        f"{shown} is not a live task of this project.",
                        ("use task numbers of this project (", Hint("query_tasks"), ")."),
                    )
            task_kinds = self._task_entries(conn, chosen)
        reason: str | None = None
        if version is None:
            commits = (
                notes_lib.commit_entries(git.commits(previous[0] if previous else None, "HEAD"))
                if _has_head(git)
                else []
            )
            kinds = {e.kind for e in [*task_kinds, *commits]}
            proposed, reason = versioning.next_version(
                previous[1] if previous else None, breaking="breaking" in kinds, features="features" in kinds
            )
            version = str(proposed)
        parsed = versioning.parse_version(version)
        name = versioning.tag_name(parsed)
        at = self.clock()
        with self.db.transaction() as conn:
            existing = (
                conn.execute(
                    select(release_milestones).where(
                        release_milestones.c.session_id == session_id, release_milestones.c.name == name
                    )
                )
                .mappings()
                .first()
            )
            tagged_by_us = existing is not None and (existing["steps"] or {}).get("tag")
            if name in tags and not tagged_by_us:
                raise Conflict(f"the tag {name} already exists in the project; plan a higher version.")
            if existing is not None and existing["status"] == "completed":
                raise Conflict(f"release {name} is completed; plan the next version.")
            previous_tag = previous[0] if previous and previous[0] != name else None
            values = {
                "version": str(parsed),
                "included_features": chosen,
                "target_date": target_date
                if target_date is not None
                else (existing["target_date"] if existing else None),
                "description": description
                if description is not None
                else (existing["description"] if existing else ""),
                "previous_tag": previous_tag,
                "updated_at": at,
            }
            if existing is None:
                conn.execute(
                    insert(release_milestones).values(
                        session_id=session_id, name=name, status="planning", steps={}, created_at=at, **values
                    )
                )
            else:
                conn.execute(
                    update(release_milestones).where(release_milestones.c.id == existing["id"]).values(**values)
                )
            included_numbers = repo.numbers_of(conn, chosen)
            self._audit(
                conn,
                session_id,
                "release_planned",
                {"release": name, "included": [included_numbers[i] for i in chosen if i in included_numbers]},
            )
            self._log(conn, session_id, "plan_release", "completed")
            readiness = self.readiness(conn, session_id, chosen)
            row = (
                conn.execute(
                    select(release_milestones).where(
                        release_milestones.c.session_id == session_id, release_milestones.c.name == name
                    )
                )
                .mappings()
                .one()
            )
        state = "ready" if readiness.ready else f"{len(readiness.open) + len(readiness.blocked)} task(s) still open"
        return ReleaseResult(
            action="plan_release",
            release=self._view(row),
            readiness=readiness,
            version_reason=reason,
            detail=f"release {name} planned with {len(chosen)} task(s): {state}"
            + (f" (proposed: {reason})" if reason else ""),
        )

    def _default_included(self, conn: Connection, session_id: int) -> list[int]:
        """Completed top-level tasks not already in another (non-cancelled) release."""
        taken: set[int] = set()
        for (features,) in conn.execute(
            select(release_milestones.c.included_features).where(
                release_milestones.c.session_id == session_id, release_milestones.c.status != "cancelled"
            )
        ):
            taken.update(features or [])
        return [
            i
            for (i,) in conn.execute(
                select(tasks.c.id)
                .where(
                    tasks.c.session_id == session_id,
                    tasks.c.parent_id.is_(None),
                    tasks.c.archived.is_(False),
                    tasks.c.status == TaskStatus.COMPLETED.value,
                )
                .order_by(tasks.c.id)
            )
            if i not in taken
        ]

    # -- create_milestone -------------------------------------------------------------------

    def create_milestone(self, session_id: int, version: str | None) -> ReleaseResult:
        """The platform milestone of the plan (found by title and updated, or created), with the
        included tasks' issues assigned to it."""
        with self.db.transaction(write=False) as conn:
            plan = self._plan(conn, session_id, version)
        result = self.git.create_milestone(session_id, plan["name"], plan["description"] or "", plan["target_date"])
        number = int((result.milestone or {})["number"])
        at = self.clock()
        included = list(plan["included_features"] or [])
        with self.write() as conn:
            conn.execute(
                update(release_milestones)
                .where(release_milestones.c.id == plan["id"])
                .values(platform_milestone_id=number, status="active", updated_at=at)
            )
            for task_id in included:
                task = repo.get_task(conn, task_id)
                repo.update_fields(conn, task, {"milestone": plan["name"]}, tool=TOOL, at=at)
            self._audit(conn, session_id, "milestone", {"release": plan["name"], "milestone": number})
        sync = self.git.push_tasks(session_id, included)
        with self.db.transaction(write=False) as conn:
            plan = self._plan(conn, session_id, plan["version"])
            readiness = self.readiness(conn, session_id, included)
        assigned = len(included) - len(readiness.without_issue)
        return ReleaseResult(
            action="create_milestone",
            release=self._view(plan),
            readiness=readiness,
            detail=f"{result.detail}; {assigned} issue(s) assigned"
            + (f", {len(sync.failed)} failed" if sync.failed else "")
            + (
                f"; {len(readiness.without_issue)} included task(s) have no issue yet"
                if readiness.without_issue
                else ""
            ),
        )

    # -- generate_changelog -----------------------------------------------------------------

    def generate_changelog(
        self,
        session_id: int,
        project_root: str,
        *,
        version: str | None,
        template: Template,
        write: bool,
        notes: str | None,
        commit: str = "HEAD",
    ) -> ReleaseResult:
        """Release notes grouped by kind; with ``write``, CHANGELOG.md updated in the project.

        Raises :class:`Conflict` when CHANGELOG.md is a link or not a regular file of the project
        (before anything is read or written), :class:`NotFound` without a plan.
        """
        git = GitRepo(project_root)
        with self.db.transaction(write=False) as conn:
            plan = self._plan(conn, session_id, version)
            entries = self._task_entries(conn, list(plan["included_features"] or []))
        until = git.resolve(commit) if _has_head(git) else None
        commits = notes_lib.commit_entries(git.commits(plan["previous_tag"], until)) if until else []
        path = notes_lib.changelog_path(project_root)  # refuses a link before reading or writing
        existing = notes_lib.read_changelog(path)
        if template == "hybrid" and not (notes and notes.strip()) and existing:
            notes = notes_lib.hand_written_notes(existing, plan["name"])
        jira = self.git.jira_project(session_id)
        if jira is not None:  # Jira links the work by key: so do the notes
            site, key = jira
            entries, commits = (
                [replace(e, text=keys.link_keys(e.text, site, key)) for e in group] for group in (entries, commits)
            )
        day = (self.clock()).date().isoformat()
        section = notes_lib.render_section(plan["name"], day, [*entries, *commits], template=template, notes=notes)
        written: str | None = None
        if write:
            notes_lib.write_changelog(path, notes_lib.update_changelog(existing, plan["name"], section))
            written = notes_lib.CHANGELOG
        with self.db.transaction() as conn:
            conn.execute(
                update(release_milestones)
                .where(release_milestones.c.id == plan["id"])
                .values(notes=section, notes_template=template, updated_at=self.clock())
            )
            self._audit(
                conn, session_id, "changelog", {"release": plan["name"], "template": template, "written": written}
            )
            self._log(conn, session_id, "generate_changelog", "completed")
            plan = self._plan(conn, session_id, plan["version"])
        counts = {kind: sum(1 for e in [*entries, *commits] if e.kind == kind) for kind, _ in notes_lib.KINDS}
        return ReleaseResult(
            action="generate_changelog",
            release=self._view(plan),
            changelog=section,
            changelog_path=written,
            detail=f"{template} notes for {plan['name']}: "
            + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
            + (f"; written to {written}" if written else ""),
        )

    # -- tag_release ------------------------------------------------------------------------

    def tag_release(
        self,
        session_id: int,
        project_root: str,
        *,
        version: str | None,
        commit: str,
        push: bool,
        remote: str,
        dry_run: bool,
        force: bool,
        via_api: bool = False,
    ) -> ReleaseResult:
        """Tag the release, push the tag, publish the platform release, close the milestone and
        complete the plan; every step skipped when already done. ``dry_run`` only reports.

        ``push`` with ``via_api`` creates the tag on the code host through its API (Bitbucket
        Cloud's refs API) instead of ``git push``. When the issues live in Jira the release is the
        Jira version of the release's name, found or created and released with the notes as its
        description; a Bitbucket repository has no release object, and the result says so.

        Raises :class:`InvalidInput` for a remote that is not a remote name or a commit that is not
        a revision, :class:`Conflict` for a dirty work tree, a tag of that name on another commit, or
        open included tasks (unless ``force``), listing what is in the way.
        """
        check_remote_name(remote)
        git = GitRepo(project_root)
        with self.db.transaction(write=False) as conn:
            plan = self._plan(conn, session_id, version)
            readiness = self.readiness(conn, session_id, list(plan["included_features"] or []))
            has_platform = self._has_platform(conn, session_id)
        name = plan["name"]
        steps_done: dict[str, Any] = dict(plan["steps"] or {})
        if plan["status"] == "completed":
            raise Conflict(f"release {name} is completed already ({plan['release_url'] or 'tagged'}).")
        sha = git.resolve(commit)
        dirty = git.dirty_paths()
        if dirty:
            shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
            raise Conflict(f"the work tree has uncommitted changes ({shown}); commit or stash them before tagging.")
        target = git.tag_target(name)
        recorded = steps_done.get("tag") or {}
        if target is not None and not (recorded and recorded.get("sha") == target):
            raise Conflict(
                f"the tag {name} already exists on {target[:12]}, not made by this plan; plan another version."
            )
        if target is None and recorded.get("status") == "done":
            raise Conflict(f"the tag {name} was created by this plan but is gone; recreate it or plan another version.")
        if recorded.get("sha") and recorded["sha"] != sha:
            sha = str(recorded["sha"])  # a resumed run keeps the commit it started with
        if not readiness.ready and not force:
            open_ = [*readiness.open, *(b.task for b in readiness.blocked)]
            listed = "; ".join(f"task {t.id} '{t.title}' is {t.status.value}" for t in open_[:20])
            raise Conflict(
                (
                    f"release {name} has open work: {listed}. Finish it, or pass ",
                    Param("force", "release_coordinator.tag_release", value=True),
                    " to release anyway.",
                )
            )
        if push and not via_api and remote not in git.remotes():
            raise InvalidInput(
                "remote",
                f"the project has no remote named {remote!r}.",
                f"use one of: {', '.join(git.remotes()) or '(none)'}.",
            )

        jira = self.git.jira_project(session_id) if has_platform else None
        pushed = f"create {name} through the code host's API" if via_api else f"push {name} to {remote}"
        released = "create or update the platform release"
        if jira is not None:
            released = f"release the Jira version {name} ({jira[1]}) with the notes"
        plan_steps = [
            ("notes", "release notes from the plan" if plan["notes"] else "generate automated notes"),
            ("tag", f"annotated tag {name} on {sha[:12]}"),
            ("push", pushed if push else "not asked"),
            ("release", released if has_platform else "no platform connected"),
            (
                "milestone",
                JIRA_MILESTONE
                if jira is not None
                else ("close the milestone" if plan["platform_milestone_id"] else "no platform milestone"),
            ),
            ("complete", "mark the plan completed"),
        ]
        if dry_run:
            planned = [
                ReleaseStep(
                    step=step,
                    status="done"
                    if (steps_done.get(step) or {}).get("status") == "done"
                    else ("skipped" if detail in _NOT_RUN else "planned"),
                    detail=detail,
                )
                for step, detail in plan_steps
            ]
            return ReleaseResult(
                action="tag_release",
                release=self._view(plan),
                readiness=readiness,
                steps=planned,
                detail=f"dry run: {sum(s.status == 'planned' for s in planned)} step(s) would run",
            )

        steps: list[ReleaseStep] = []
        for step, detail in plan_steps:
            if (steps_done.get(step) or {}).get("status") == "done":
                steps.append(ReleaseStep(step=step, status="resumed", detail=f"{detail}: done in an earlier run"))
                continue
            if detail in _NOT_RUN:
                steps.append(ReleaseStep(step=step, status="skipped", detail=detail))
                continue
            self._record_step(plan["id"], session_id, step, {"status": "started", "sha": sha})
            try:
                outcome = self._run_step(
                    step, session_id, project_root, git, plan, name, sha, remote, via_api=via_api, jira=jira
                )
            except TaskorchError as exc:
                self._record_step(plan["id"], session_id, step, {"status": "failed", "sha": sha, "error": str(exc)})
                raise
            self._record_step(plan["id"], session_id, step, {"status": "done", "sha": sha, **outcome})
            steps.append(ReleaseStep(step=step, status="done", detail=str(outcome.get("detail", detail))))
            with self.db.transaction(write=False) as conn:
                plan = self._plan(conn, session_id, plan["version"])
        return ReleaseResult(
            action="tag_release",
            release=self._view(plan),
            readiness=readiness,
            steps=steps,
            detail=f"release {name} published" + (f": {plan['release_url']}" if plan["release_url"] else ""),
        )

    def _no_release_object(self, session_id: int) -> str:
        """What stands for the platform release when the issues live in Jira, said plainly."""
        with self.db.transaction(write=False) as conn:
            code = conn.execute(
                select(git_integration_config.c.code_platform, git_integration_config.c.code_repository).where(
                    git_integration_config.c.session_id == session_id
                )
            ).first()
        if code is not None and code[0] == "bitbucket":
            return (
                f"a Bitbucket repository has no release object: the release is the tag on {code[1]}, the released "
                "Jira version and CHANGELOG.md"
            )
        if code is not None and code[0]:
            return f"no release was published on {code[0]} ({code[1]}): the Jira version carries the notes"
        return "no code host is connected: the release is the tag, the released Jira version and CHANGELOG.md"

    def _record_step(self, plan_id: int, session_id: int, step: str, state: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            row = conn.execute(select(release_milestones.c.steps).where(release_milestones.c.id == plan_id)).one()
            steps = dict(row[0] or {})
            steps[step] = state
            conn.execute(update(release_milestones).where(release_milestones.c.id == plan_id).values(steps=steps))
            if state["status"] != "started":
                self._log(
                    conn,
                    session_id,
                    f"release_{step}",
                    "completed" if state["status"] == "done" else "failed",
                    state.get("error"),
                )
                self._audit(
                    conn,
                    session_id,
                    f"release_{step}",
                    {"status": state["status"], **({"error": state["error"]} if "error" in state else {})},
                )

    def _run_step(
        self,
        step: str,
        session_id: int,
        project_root: str,
        git: GitRepo,
        plan: RowMapping,
        name: str,
        sha: str,
        remote: str,
        *,
        via_api: bool = False,
        jira: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        if step == "notes":
            if plan["notes"]:
                return {"detail": f"{plan['notes_template'] or 'existing'} notes kept"}
            result = self.generate_changelog(
                session_id,
                project_root,
                version=plan["version"],
                template="automated",
                write=False,
                notes=None,
                commit=sha,
            )
            return {"detail": result.detail}
        if step == "tag":
            if git.tag_target(name) == sha:
                return {"detail": f"tag {name} already on {sha[:12]}"}
            with self.db.transaction(write=False) as conn:
                notes = self._plan(conn, session_id, plan["version"])["notes"] or ""
            git.create_tag(name, sha, f"Release {name}\n\n{notes}".strip())
            with self.db.transaction() as conn:
                conn.execute(
                    update(release_milestones).where(release_milestones.c.id == plan["id"]).values(tag_sha=sha)
                )
            return {"detail": f"tag {name} created on {sha[:12]}"}
        if step == "push" and via_api:
            with self.db.transaction(write=False) as conn:
                notes = self._plan(conn, session_id, plan["version"])["notes"] or ""
            return {"detail": self.git.push_tag_via_api(session_id, name, sha, f"Release {name}\n\n{notes}".strip())}
        if step == "push":
            if git.remote_has_tag(remote, name):
                return {"detail": f"{remote} has {name} already"}
            git.push_tag(remote, name)
            return {"detail": f"{name} pushed to {remote}"}
        if step == "release" and jira is not None:
            with self.db.transaction(write=False) as conn:
                notes = self._plan(conn, session_id, plan["version"])["notes"] or ""
            version, done = self.git.release_version(session_id, name, notes)
            with self.db.transaction() as conn:
                conn.execute(
                    update(release_milestones)
                    .where(release_milestones.c.id == plan["id"])
                    .values(platform_milestone_id=version.number, release_url=version.url)
                )
            return {"detail": f"Jira version {name} {done}: {version.url}; " + self._no_release_object(session_id)}
        if step == "release":
            with self.db.transaction(write=False) as conn:
                notes = self._plan(conn, session_id, plan["version"])["notes"] or ""
            release, verb = self.git.publish_release(
                session_id, name, notes, sha, bool(versioning.parse_version(name).prerelease)
            )
            with self.db.transaction() as conn:
                conn.execute(
                    update(release_milestones)
                    .where(release_milestones.c.id == plan["id"])
                    .values(release_id=release.id, release_url=release.url)
                )
            return {"detail": f"release {verb}: {release.url}", "release_id": release.id}
        if step == "milestone":
            self.git.close_milestone(session_id, int(plan["platform_milestone_id"]))
            return {"detail": f"milestone #{plan['platform_milestone_id']} closed"}
        with self.db.transaction() as conn:
            conn.execute(
                update(release_milestones)
                .where(release_milestones.c.id == plan["id"])
                .values(status="completed", updated_at=self.clock())
            )
        return {"detail": f"release {name} completed"}


def _has_head(git: GitRepo) -> bool:
    try:
        git.resolve("HEAD")
    except InvalidInput:
        return False
    return True
