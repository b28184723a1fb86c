"""The Git platform integration as services: connect a repository, issues, sync, conflicts,
milestones and the project board.

Each function runs its local reads and writes in short transactions and its platform calls
outside them (through :class:`~taskorch.sync.engine.SyncEngine`), so a slow or failing platform
never holds the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Connection, RowMapping, insert, select, update

from taskorch.config import GIT_TIERS, Settings
from taskorch.errors import Conflict, InvalidInput, NotFound
from taskorch.hints import REQUIRED, Hint
from taskorch.platforms.base import Platform, RemoteMilestone, RemoteRelease, RepositoryRef, lacks
from taskorch.platforms.registry import (
    BOARD_KEYS,
    LABEL_KEY_PREFIX,
    TASK_STATUSES,
    PlatformSpec,
    jira_reference,
    jira_site,
    jira_url,
    platform_spec,
    resolve_repository,
    split_overrides,
    stored_reference,
)
from taskorch.services.connection import ConnectionConfig
from taskorch.services.models import (
    BoardResult,
    ConflictView,
    GitConfigView,
    GitResult,
    IssueLinkView,
    SyncFailure,
    SyncResult,
)
from taskorch.store import repository as repo
from taskorch.store import sync_repository as sync_store
from taskorch.store.db import Database
from taskorch.store.tables import (
    feature_issue_links,
    git_integration_config,
    release_milestones,
    tasks,
)
from taskorch.sync import mapping, outbox
from taskorch.sync.engine import (
    SyncEngine,
    board_column,
    enqueue,
    pending_count,
    take_remote_value,
)
from taskorch.sync.reports import SyncReport, conflict_report, link_report
from taskorch.sync.template import check_template

__all__ = ["JIRA_EXAMPLE", "GitService", "PlatformFactory", "code_host_of", "default_platform_factory"]

POLICIES = ("manual", "local_wins", "remote_wins", "newest_wins")
#: How a hint spells a Jira project for a connect.
JIRA_EXAMPLE = "https://SITE.atlassian.net/browse/KEY"

PlatformFactory = Callable[[Mapping[Any, Any]], Platform]


def default_platform_factory(settings: Settings) -> PlatformFactory:
    """Build the adapter for a config row through the platform registry, with the token looked
    up by its name and the base URL from the settings (or the repository's own host)."""

    def build(config: Mapping[Any, Any]) -> Platform:
        from taskorch.sync.secrets import resolve_token

        spec = platform_spec(str(config["platform"]))
        ref = stored_reference(spec.name, str(config["repository_url"]), settings)
        token = resolve_token(str(config["api_token_name"]))
        base_url = spec.api_url(ref, spec.configured_url(settings))
        return spec.build(token, ref, base_url, settings, config.get("status_mapping") or {})

    return build


def code_host_of(config: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The config row of a connection's code host, to hand a :data:`PlatformFactory`, when it is
    not the issue platform's repository (``code_platform`` set: Bitbucket Cloud code with Jira
    issues); ``None`` otherwise."""
    if not config.get("code_platform"):
        return None
    return {
        **config,
        "platform": config["code_platform"],
        "repository_url": config["code_repository"],
        "api_token_name": config["code_token_name"],
        "code_platform": None,
        "code_repository": None,
        "code_token_name": None,
    }


def columns_of(config: Mapping[Any, Any]) -> dict[str, str]:
    """The board column of each board key for a config row: the platform's defaults with the
    repository's overrides."""
    return platform_spec(str(config["platform"])).columns(config["status_mapping"] or {})


def link_view(row: Mapping[Any, Any], number: int) -> IssueLinkView:
    """The link ``row`` of the task whose number in its project is ``number``, as a tool shows it."""
    return IssueLinkView.model_validate(asdict(link_report(row, number)))


def conflict_view(row: Mapping[Any, Any], number: int) -> ConflictView:
    """The conflict ``row`` on the task whose number in its project is ``number``, as a tool shows it."""
    return ConflictView.model_validate(asdict(conflict_report(row, number)))


def sync_result(report: SyncReport) -> SyncResult:
    """The sync layer's report as the tools' result."""
    return SyncResult(
        repository=report.repository,
        created=[IssueLinkView.model_validate(asdict(link)) for link in report.created],
        updated=report.updated,
        pulled=report.pulled,
        conflicts=[ConflictView.model_validate(asdict(c)) for c in report.conflicts],
        failed=[SyncFailure.model_validate(asdict(f)) for f in report.failed],
        pending=report.pending,
        not_modified=report.not_modified,
        requests=report.requests,
        duration_seconds=report.duration_seconds,
        rate_limit=report.rate_limit,
        stopped=report.stopped,
        notes=report.notes,
        imported=report.imported,
    )


def config_view(row: Mapping[Any, Any]) -> GitConfigView:
    return GitConfigView(
        platform=row["platform"],
        repository=row["repository_url"],
        api_token_name=row["api_token_name"],
        tier=row["tier"],
        auto_sync_enabled=row["auto_sync_enabled"],
        conflict_policy=row["conflict_policy"],
        progress_comments=row["progress_comments"],
        default_labels=list(row["default_labels"] or []),
        status_mapping={**columns_of(row), **_label_keys(row)},
        board_number=row["board_number"],
        custom_template=row["issue_template"] is not None,
        import_policy=row["import_policy"],
        code_host=_code_host(row),
    )


#: The longest description a Jira version takes, in UTF-8 bytes
#: (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-project-versions/).
VERSION_DESCRIPTION_BYTES = 16_384
_CUT = "\n\n(cut: the full notes are in CHANGELOG.md)"


def _fit_description(notes: str) -> str:
    """``notes`` within :data:`VERSION_DESCRIPTION_BYTES`, cut at a line when too long."""
    if len(notes.encode()) <= VERSION_DESCRIPTION_BYTES:
        return notes
    room = VERSION_DESCRIPTION_BYTES - len(_CUT.encode())
    kept = notes.encode()[:room].decode(errors="ignore")
    return kept[: kept.rfind("\n")].rstrip() + _CUT if "\n" in kept else kept + _CUT


def _code_host(row: Mapping[Any, Any]) -> str | None:
    """``bitbucket``'s ``https://bitbucket.org/acme/shop``, or ``github:octo-org/shop``; ``None``
    when the issue platform's repository is the code host."""
    platform, repository = row.get("code_platform"), row.get("code_repository")
    if not platform or not repository:
        return None
    return str(repository) if "://" in str(repository) else f"{platform}:{repository}"


def check_import_policy(policy: str) -> str:
    """``off``, ``all`` or ``label:NAME`` (NAME: 1 to 50 characters), trimmed; else
    :class:`InvalidInput` naming ``import_policy``."""
    text = policy.strip()
    if text in ("off", "all"):
        return text
    if text.startswith("label:"):
        name = text.removeprefix("label:").strip()
        if 0 < len(name) <= 50:
            return f"label:{name}"
    raise InvalidInput(
        "import_policy",
        f"{policy[:80]!r} is not an import policy.",
        "use off, all, or label:NAME (e.g. label:taskorch) to import the open issues carrying that label.",
    )


def _label_keys(row: Mapping[Any, Any]) -> dict[str, str]:
    """The ``label:<status>`` entries of a config row's mapping: the platform's status labels
    with the repository's overrides."""
    conventions = platform_spec(str(row["platform"])).label_conventions(row["status_mapping"] or {})
    return {f"{LABEL_KEY_PREFIX}{status}": label for status, label in conventions.status_labels.items()}


def _check_board_type(platform: Platform, board_type: str | None) -> None:
    """Refuse a ``board_type`` the connection's platform does not make, saying what it makes
    (:attr:`PlatformSpec.board_type`); ``sprint_board`` (a board with sprints) needs ``iterations``."""
    own = platform_spec(platform.name).board_type
    if board_type is None or board_type == own:
        return
    if board_type == "sprint_board":
        missing = lacks(platform, "iterations")
        if missing is not None:
            raise Conflict(f"{missing}: no sprint board; create a board without board_type, or connect a Jira project.")
        return
    raise InvalidInput(
        "board_type",
        f"{board_type!r} is not a board {platform.name} makes.",
        f"use {own!r} or omit board_type." if own else "omit board_type.",
    )


def _check_mapping(status_mapping: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(status_mapping or {})
    columns, labels = split_overrides(out)
    unknown = [k for k in out if k not in columns and not (k.startswith(LABEL_KEY_PREFIX) and k[6:] in labels)]
    if unknown:
        raise InvalidInput(
            "status_mapping",
            f"unknown key(s): {', '.join(unknown)}.",
            f"use keys among: {', '.join(BOARD_KEYS)} (board columns), or label:<status> for the label carrying a "
            f"status ({', '.join(TASK_STATUSES)}).",
        )
    if any(not isinstance(v, str) or not v.strip() for v in out.values()):
        raise InvalidInput(
            "status_mapping", "every column name must be a non-empty string.", "e.g. {'completed': 'Done'}."
        )
    return out


class GitService:
    """The integration of one orchestrator's database with the platforms it connects to."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        platform_factory: PlatformFactory | None = None,
        clock: Callable[[], datetime] = repo.utcnow,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.platform_factory = platform_factory or default_platform_factory(settings)
        self.clock = clock
        self.sleep = sleep

    # -- configuration ----------------------------------------------------------------------

    def config_row(self, conn: Connection, session_id: int) -> RowMapping:
        row = (
            conn.execute(select(git_integration_config).where(git_integration_config.c.session_id == session_id))
            .mappings()
            .first()
        )
        if row is None:
            raise Conflict(
                (
                    "this project has no Git repository connected. Connect one first: ",
                    Hint(
                        "git_integration",
                        {"action": "connect", "repository": REQUIRED, "issue_config.api_token_name": REQUIRED},
                    ),
                    ".",
                )
            )
        return row

    def check_connect(
        self,
        config: ConnectionConfig,
        *,
        token_name_allowed: Callable[[str], bool] | None = None,
        trusted: bool = True,
    ) -> dict[str, Any]:
        """Validate a connect request without touching the database, trial-rendering the issue
        template under its bounds; returns the values :meth:`connect` stores.

        The platform comes from the registry (:func:`~taskorch.platforms.registry.resolve_repository`).
        ``token_name_allowed`` restricts the token names a caller other than the user may use
        (``None``: any name); such a caller (``trusted=False``) may not name a base URL nor a host
        other than the one the settings name (``TASKORCH_GITHUB_API_URL``, ``TASKORCH_GITLAB_URL``),
        so a token is only ever sent where the user said (for Jira: the site of ``TASKORCH_JIRA_URL``).
        Raises :class:`InvalidInput` naming the field; a value that looks like a token is never repeated.

        With ``jira`` / ``jira_project`` (or a ``jira:KEY`` repository) the issues live in that Jira
        project: the row's ``platform`` is ``jira``, ``repository_url`` ``https://SITE/browse/KEY``
        and ``api_token_name`` Jira's token, and the repository, if any, is stored as the code host
        (``code_platform``, ``code_repository``, ``code_token_name``). A platform that holds no
        issues (Bitbucket Cloud) without them is refused, saying why and what to pass.
        """
        config = config.checked_text()
        if not trusted and config.base_url is not None:
            raise InvalidInput(
                "base_url",
                "is not accepted from a tool: the platform's address comes from the server's settings.",
                "ask the user to set TASKORCH_GITLAB_URL (or TASKORCH_GITHUB_API_URL), or to connect from the CLI "
                "with --url.",
            )
        spec, ref, code = self._resolve(config, trusted=trusted)
        token_name = self._token_name(
            "api_token_name", config.api_token_name, spec.token_variable, ref, token_name_allowed
        )
        code_token_name = (
            self._token_name(
                "code_token_name", config.code_token_name, code[0].token_variable, code[1], token_name_allowed
            )
            if code is not None
            else None
        )
        if config.tier not in GIT_TIERS[1:]:
            raise InvalidInput("tier", f"{config.tier!r} is not a tier.", f"use one of: {', '.join(GIT_TIERS[1:])}.")
        if config.conflict_policy not in POLICIES:
            raise InvalidInput(
                "conflict_policy",
                f"{config.conflict_policy!r} is not a policy.",
                f"use one of: {', '.join(POLICIES)}.",
            )
        if config.issue_template is not None:
            check_template(config.issue_template)
        return {
            "platform": spec.name,
            "repository_url": jira_url(ref, self.settings) if spec.name == "jira" else str(ref),
            "api_token_name": token_name,
            "code_platform": code[0].name if code is not None else None,
            "code_repository": str(code[1]) if code is not None else None,
            "code_token_name": code_token_name,
            "default_labels": list(dict.fromkeys(label.strip() for label in config.default_labels if label.strip())),
            "auto_sync_enabled": config.auto_sync_enabled,
            "issue_template": config.issue_template,
            "tier": config.tier,
            "conflict_policy": config.conflict_policy,
            "progress_comments": config.progress_comments,
            "status_mapping": _check_mapping(config.status_mapping),
        }

    def _resolve(
        self, config: ConnectionConfig, *, trusted: bool
    ) -> tuple[PlatformSpec, RepositoryRef, tuple[PlatformSpec, RepositoryRef] | None]:
        """The issue platform and repository of a connect, and its code host when that is another
        repository (Bitbucket Cloud code with Jira issues): ``(spec, ref, (code_spec, code_ref) | None)``."""
        text = config.repository.strip()
        prefixed = text[:5].lower() == "jira:" and "://" not in text[:12]
        if config.platform == "jira" or prefixed or urlsplit(text).netloc.lower().endswith(".atlassian.net"):
            # jira:KEY, KEY with platform=jira, or a URL in the project (https://SITE/browse/KEY).
            named = text[5:].strip() if prefixed else text
            site, project = (named, config.jira_project) if "://" in named else (config.jira, named)
            if config.jira_project is not None and "://" not in named and named.upper() != config.jira_project.upper():
                raise InvalidInput("jira_project", f"{config.jira_project!r} is not {named!r}.", "pass one of them.")
            if "://" in named and config.jira is not None:
                raise InvalidInput("jira", "is given twice: in the repository and here.", "pass one of them.")
            spec, ref = platform_spec("jira"), jira_reference(site, project, settings=self.settings)
            self._check_host(spec, ref, trusted)
            return spec, ref, None
        spec, ref = resolve_repository(text, platform=config.platform, settings=self.settings, url=config.base_url)
        self._check_host(spec, ref, trusted)
        if config.jira is None and config.jira_project is None:
            if spec.no_issues:
                raise InvalidInput(
                    "repository",
                    spec.no_issues,
                    (
                        "connect the repository with its Jira project: ",
                        Hint(
                            "git_integration",
                            {"action": "connect", "repository": f"{spec.name}:{ref.path}", "jira": JIRA_EXAMPLE},
                        ),
                        ".",
                    ),
                )
            return spec, ref, None
        jira_spec = platform_spec("jira")
        jira_ref = jira_reference(config.jira, config.jira_project, settings=self.settings)
        self._check_host(jira_spec, jira_ref, trusted)
        return jira_spec, jira_ref, (spec, ref)

    def _check_host(self, spec: PlatformSpec, ref: RepositoryRef, trusted: bool) -> None:
        """A caller other than the user may only reach the host the settings name."""
        if trusted:
            return
        configured = urlsplit(jira_site(self.settings)).netloc.lower() if spec.name == "jira" else None
        if configured is None:
            configured = spec.default_host(spec.configured_url(self.settings))
        if ref.host != configured:
            field = "jira" if spec.name == "jira" else "repository"
            reference = jira_url(ref, self.settings) if spec.name == "jira" else str(ref)
            raise InvalidInput(
                field,
                f"{ref.host} is not the {spec.title} host this server is set up for ({configured or 'none'}).",
                f"ask the user to set {spec.url_variable} for {ref.host}, or to connect from the CLI: "
                f"taskorch git connect {reference} --platform {spec.name}",
            )

    def _token_name(
        self,
        field: str,
        name: str | None,
        default: str,
        ref: RepositoryRef,
        allowed: Callable[[str], bool] | None,
    ) -> str:
        from taskorch.sync.secrets import check_token_name

        token_name = check_token_name(name or default)
        if allowed is not None and not allowed(token_name):
            listed = ", ".join(self.settings.allowed_token_names) or "(none)"
            raise InvalidInput(
                field,
                f"{token_name} is not among the token names this server may send to a platform ({listed}, or "
                "TASKORCH_*_TOKEN), so its value was not read.",
                f"use one of those names, or ask the user to add {token_name} to TASKORCH_ALLOWED_TOKEN_NAMES "
                "(comma-separated) in the server's environment and restart it, or to connect from the CLI: "
                f"taskorch git connect {ref} --{'code-' if field == 'code_token_name' else ''}token-name {token_name}",
            )
        return token_name

    @staticmethod
    def lacking(view: GitConfigView) -> str:
        """What the connected platform cannot do for the view's tier and how it differs, said
        plainly, one point per line ("" if nothing): "; on GitLab:\n- no conditional requests\n- ..."."""
        spec = platform_spec(view.platform)
        said = spec.lacking(view.tier)
        text = f"; on {spec.title}:" + "".join(f"\n- {point}" for point in said) if said else ""
        if view.code_host:
            text += f"\n- code, tags and releases on {view.code_host}"
        return text

    def connect(self, conn: Connection, session_id: int, checked: Mapping[str, Any]) -> GitConfigView:
        """Create or replace the project's integration settings (no network call) from the values
        :meth:`check_connect` returned; nothing is validated or rendered here, inside the write
        transaction."""
        values = {**checked, "updated_at": self.clock()}
        existing = conn.execute(
            select(git_integration_config.c.id).where(git_integration_config.c.session_id == session_id)
        ).first()
        if existing is None:
            conn.execute(
                insert(git_integration_config).values(session_id=session_id, created_at=self.clock(), **values)
            )
        else:
            conn.execute(
                update(git_integration_config).where(git_integration_config.c.id == existing[0]).values(**values)
            )
        repo.record_event(
            conn,
            session_id=session_id,
            task_id=None,
            tool="git_integration",
            action="connected",
            changes={
                "repository": values["repository_url"],
                "tier": values["tier"],
                "api_token_name": values["api_token_name"],
                **({"code_host": values["code_repository"]} if values.get("code_platform") else {}),
            },
            at=self.clock(),
        )
        return config_view(self.config_row(conn, session_id))

    def set_import_policy(self, conn: Connection, session_id: int, policy: str) -> GitConfigView:
        """Set which issues opened on the platform the pull turns into tasks: ``off`` (none),
        ``all`` (every open issue not linked to a task) or ``label:NAME`` (the open ones carrying
        label NAME, compared without case). The watermark is reset, so the next pull lists every
        issue once. Raises :class:`InvalidInput` naming ``import_policy``,
        :class:`Conflict` when no repository is connected."""
        checked = check_import_policy(policy)
        self.config_row(conn, session_id)
        conn.execute(
            update(git_integration_config)
            .where(git_integration_config.c.session_id == session_id)
            .values(import_policy=checked, updated_at=self.clock())
        )
        # The next pull lists every issue once, so issues opened before the policy are imported too.
        sync_store.update_state(conn, session_id, since=None, etag=None)
        repo.record_event(
            conn,
            session_id=session_id,
            task_id=None,
            tool="git_integration",
            action="import_policy",
            changes={"import_policy": checked},
            at=self.clock(),
        )
        return config_view(self.config_row(conn, session_id))

    @contextmanager
    def connected(self, session_id: int) -> Iterator[SyncEngine]:
        """A sync engine for the session's repository; its platform client is closed afterwards."""
        engine = self.engine(session_id)
        try:
            yield engine
        finally:
            engine.platform.close()

    def engine(self, session_id: int) -> SyncEngine:
        with self.db.transaction(write=False) as conn:
            config = dict(self.config_row(conn, session_id))
        platform = self.platform_factory(config)
        kwargs: dict[str, Any] = {}
        if self.sleep is not None:
            kwargs["sleep"] = self.sleep
        spec = platform_spec(str(config["platform"]))
        conventions = spec.label_conventions(config["status_mapping"] or {})
        return SyncEngine(
            self.db,
            session_id,
            {**config, "status_mapping": columns_of(config)},
            platform,
            conventions=conventions,
            mutation_spacing=self.settings.mutation_spacing,
            max_retry_wait=self.settings.max_retry_wait,
            clock=self.clock,
            **kwargs,
        )

    # -- issues -----------------------------------------------------------------------------

    def _task_in_session(self, conn: Connection, session_id: int, task_id: int) -> RowMapping:
        """The task row of internal id ``task_id`` (resolved from its number by the caller)."""
        task = repo.get_task(conn, task_id)
        if task["session_id"] != session_id:
            raise InvalidInput("task_id", "names a task of another project.", "use a task number of this project.")
        return task

    def _link(self, conn: Connection, task_id: int) -> RowMapping | None:
        return sync_store.link_of(conn, task_id)

    def create_issue(self, session_id: int, task_id: int) -> GitResult:
        """Create the task's issue now (idempotent: a task already linked keeps its issue)."""
        with self.db.transaction() as conn:
            config = self.config_row(conn, session_id)
            number = self._task_in_session(conn, session_id, task_id)["number"]
            outbox.create_intent(conn, task_id=task_id, config=config, at=self.clock())
        result, link = self._push_one(session_id, task_id)
        detail = (
            f"task {number} is issue #{link['issue_number']}: {link['issue_url']}"
            if link["issue_number"]
            else f"issue not created yet: {'; '.join(f.error for f in result.failed) or result.stopped or 'pending'}"
        )
        return GitResult(action="create_issue", link=link_view(link, number), sync=result, detail=detail)

    def update_issue(self, session_id: int, task_id: int) -> GitResult:
        """Push the task's current values to its issue now."""
        with self.db.transaction() as conn:
            number = self._task_in_session(conn, session_id, task_id)["number"]
            link = self._link(conn, task_id)
            if link is None:
                raise Conflict(
                    (
                        f"task {number} has no issue. Create one with ",
                        Hint("git_integration", {"action": "create_issue", "task_id": number}),
                        " or link one with ",
                        Hint("git_integration", {"action": "link_task", "task_id": number, "issue_number": REQUIRED}),
                        " first.",
                    )
                )
            enqueue(conn, session_id, task_id, "update_issue", {}, self.clock())
        result, link = self._push_one(session_id, task_id)
        return GitResult(
            action="update_issue",
            link=link_view(link, number),
            sync=result,
            detail=f"issue #{link['issue_number']} is {link['sync_status']}",
        )

    def _push_one(self, session_id: int, task_id: int) -> tuple[SyncResult, RowMapping]:
        """Push one task's outbox entries now; return the run and the task's link afterwards."""
        result = self.push_tasks(session_id, [task_id])
        with self.db.transaction(write=False) as conn:
            link = self._link(conn, task_id)
        assert link is not None
        return result, link

    def link_task(self, session_id: int, task_id: int, issue_number: int) -> GitResult:
        """Link an existing issue to a task; the task takes the issue's values (three-way merge
        with the task's current values as the base)."""
        with self.db.transaction(write=False) as conn:
            config = self.config_row(conn, session_id)
            number = self._task_in_session(conn, session_id, task_id)["number"]
            if self._link(conn, task_id) is not None:
                raise Conflict(f"task {number} is already linked to an issue.")
            taken = conn.execute(
                select(tasks.c.number)
                .join_from(feature_issue_links, tasks, feature_issue_links.c.task_id == tasks.c.id)
                .where(
                    feature_issue_links.c.repository == config["repository_url"],
                    feature_issue_links.c.issue_number == issue_number,
                )
            ).first()
            if taken is not None:
                raise Conflict(f"issue #{issue_number} is already linked to task {taken[0]}.")
        with self.connected(session_id) as engine:
            issue = engine.call("get_issue", lambda: engine.platform.get_issue(issue_number), mutation=False)
            at = self.clock()
            with self.db.transaction(write=False) as conn:
                task = repo.get_task(conn, task_id)
                labels = repo.labels_of(conn, [task_id])[task_id]
            # Rendered outside the write transaction; a change to the task in between differs
            # from this base and is pushed by the next sync.
            local = mapping.local_values(
                task,
                labels,
                template=config["issue_template"],
                verbatim_body=False,
                default_labels=list(config["default_labels"] or []),
            )
            with self.db.transaction() as conn:
                from taskorch.sync.engine import new_idempotency_key

                sync_store.insert_link(
                    conn,
                    task_id=task_id,
                    platform=config["platform"],
                    repository=config["repository_url"],
                    issue_number=issue.number,
                    issue_url=issue.url,
                    issue_id=issue.id,
                    issue_node_id=issue.node_id,
                    sync_status="pending",
                    idempotency_key=new_idempotency_key(),
                    intent_at=at,
                    base=local,
                    remote={},
                )
                repo.record_event(
                    conn,
                    session_id=session_id,
                    task_id=task_id,
                    tool="git_integration",
                    action="issue_linked",
                    changes={"issue_number": issue.number, "issue_url": issue.url},
                    at=at,
                )
                link = self._link(conn, task_id)
            assert link is not None
            engine.merge_remote(link, issue)
        with self.db.transaction(write=False) as conn:
            link = self._link(conn, task_id)
        assert link is not None
        return GitResult(
            action="link_task",
            link=link_view(link, number),
            detail=f"task {number} is linked to issue #{issue_number} and took its values",
        )

    def sync(
        self,
        session_id: int,
        *,
        pull: bool = True,
        push: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> GitResult:
        """Pull remote changes, then push pending local ones."""
        with self.connected(session_id) as engine:
            result = sync_result(engine.run(pull=pull, push=push, progress=progress))
        parts = [f"{len(result.created)} created", f"{len(result.updated)} updated", f"{len(result.pulled)} pulled"]
        if result.imported:
            parts.append(f"{len(result.imported)} imported")
        if result.conflicts:
            parts.append(f"{len(result.conflicts)} conflict(s)")
        if result.failed:
            parts.append(f"{len(result.failed)} failed")
        if result.pending:
            parts.append(f"{result.pending} still pending")
        parts.extend(result.notes)
        return GitResult(
            action="sync_status",
            sync=result,
            detail=", ".join(parts)
            + f"; {result.requests} request(s)"
            + (" (nothing changed remotely)" if result.not_modified else ""),
        )

    def status(self, session_id: int) -> dict[str, Any]:
        """Counts of links by sync status, pending outbox, open conflicts, rate budget."""
        with self.db.transaction(write=False) as conn:
            config = self.config_row(conn, session_id)
            links = sync_store.link_status_counts(conn, session_id)
            pending = pending_count(conn, session_id)
            conflicts = sync_store.open_conflict_count(conn, session_id)
            state = sync_store.state_of(conn, session_id)
        return {
            "repository": config["repository_url"],
            "links": links,
            "outbox_pending": pending,
            "open_conflicts": conflicts,
            "last_pull_at": state["last_pull_at"].isoformat() if state and state["last_pull_at"] else None,
            "rate_limit": dict(state["rate_limit"]) if state else {},
        }

    # -- conflicts --------------------------------------------------------------------------

    def conflicts(self, session_id: int, *, include_resolved: bool = False) -> list[ConflictView]:
        with self.db.transaction(write=False) as conn:
            rows = sync_store.session_conflicts(conn, session_id, include_resolved=include_resolved)
            return [conflict_view(r, r["number"]) for r in rows]

    def resolve_conflict(self, session_id: int, conflict_id: int, resolution: str) -> GitResult:
        """Settle a conflict: ``local`` keeps the task's value (pushed on the next sync),
        ``remote`` takes the platform's value into the task."""
        if resolution not in ("local", "remote"):
            raise InvalidInput("resolution", f"{resolution!r} is not a resolution.", "use local or remote.")
        at = self.clock()
        with self.db.transaction() as conn:
            row = sync_store.conflict_by_id(conn, conflict_id)
            if row is None or row["session_id"] != session_id:
                raise NotFound(
                    (
                        f"conflict {conflict_id} does not exist. List them with ",
                        Hint("git_integration", {"action": "list_conflicts"}),
                        ".",
                    )
                )
            if row["status"] != "open":
                raise Conflict(f"conflict {conflict_id} is already resolved ({row['resolution']}).")
            number = repo.numbers_of(conn, [row["task_id"]])[row["task_id"]]
            link = self._link(conn, row["task_id"])
            if link is None:
                raise Conflict(f"task {number} is no longer linked; the conflict cannot be applied.")
            base = dict(link["base"] or {})
            field = row["field"]
            detail: str
            if resolution == "remote":
                reason = take_remote_value(
                    conn, link, field, row["remote_value"], tool="git_integration", at=at, base=base
                )
                if reason is not None:
                    raise Conflict(f"cannot take the platform's {field}: {reason}. Resolve with local instead.")
                base[field] = row["remote_value"]
                detail = f"task {number} took the platform's {field}"
            else:
                base[field] = row["remote_value"]  # the local value now differs from base only: it is pushed
                enqueue(conn, session_id, row["task_id"], "update_issue", {}, at)
                if field == "dependencies":  # each dependency is an entry of its own
                    blocking = sync_store.task_ids_of_issues(
                        conn, session_id, link["repository"], [*row["remote_value"], *row["local_value"]]
                    )
                    for blocking_id in sorted(set(blocking.values())):
                        enqueue(conn, session_id, row["task_id"], "dependency", {"on": blocking_id}, at)
                detail = f"task {number} keeps its {field}; the next sync pushes it"
            sync_store.update_conflict(conn, conflict_id, status="resolved", resolution=resolution, resolved_at=at)
            still_open = sync_store.open_conflict_fields(conn, row["task_id"])
            sync_store.update_link(conn, link["id"], base=base, sync_status="manual" if still_open else "pending")
            repo.record_event(
                conn,
                session_id=session_id,
                task_id=row["task_id"],
                tool="git_integration",
                action="conflict_resolved",
                changes={"field": field, "resolution": resolution},
                at=at,
            )
            resolved = sync_store.conflict_by_id(conn, conflict_id)
            assert resolved is not None  # read above, in this transaction
        return GitResult(action="resolve_conflict", conflicts=[conflict_view(resolved, number)], detail=detail)

    # -- milestones -------------------------------------------------------------------------

    def create_milestone(self, session_id: int, title: str, description: str, due_on: date | None) -> GitResult:
        """Create the platform milestone, or update the one with that title (idempotent), and
        record it as a release milestone."""
        if not title.strip():
            raise InvalidInput("milestone.title", "is empty.", "give the milestone a title, e.g. 'v1.2.0'.")
        engine = self.engine(session_id)
        due = datetime.combine(due_on, time(0, 0), tzinfo=UTC) if due_on else None
        try:
            existing = {
                m.title: m for m in engine.call("list_milestones", engine.platform.list_milestones, mutation=False)
            }
            current = existing.get(title.strip())
            if current is None:
                milestone = engine.call(
                    "create_milestone",
                    lambda: engine.platform.create_milestone(title.strip(), description, due),
                    mutation=True,
                )
                verb = "created"
            else:
                number = current.number
                milestone = engine.call(
                    "update_milestone",
                    lambda: engine.platform.update_milestone(number, description=description, due_on=due),
                    mutation=True,
                )
                verb = "updated"
        finally:
            engine.platform.close()
        at = self.clock()
        with self.db.transaction() as conn:
            row = conn.execute(
                select(release_milestones.c.id).where(
                    release_milestones.c.session_id == session_id, release_milestones.c.name == milestone.title
                )
            ).first()
            values = {
                "description": description,
                "target_date": due_on,
                "platform_milestone_id": milestone.number,
                "updated_at": at,
            }
            if row is None:
                conn.execute(
                    insert(release_milestones).values(
                        session_id=session_id,
                        name=milestone.title,
                        included_features=[],
                        status="planning",
                        steps={},
                        created_at=at,
                        **values,
                    )
                )
            else:
                conn.execute(update(release_milestones).where(release_milestones.c.id == row[0]).values(**values))
            engine.log(conn, "milestone_sync", f"{verb}_milestone", "completed", records=1, requests=2)
        return GitResult(
            action="create_milestone",
            milestone={
                "number": milestone.number,
                "title": milestone.title,
                "url": milestone.url,
                "state": milestone.state,
                "due_on": milestone.due_on.isoformat() if milestone.due_on else None,
            },
            detail=f"milestone '{milestone.title}' {verb} (#{milestone.number})",
        )

    # -- project board ----------------------------------------------------------------------

    def _board_engine(self, session_id: int) -> tuple[SyncEngine, RowMapping]:
        with self.db.transaction(write=False) as conn:
            config = self.config_row(conn, session_id)
        if config["tier"] not in ("project", "full"):
            raise Conflict(
                f"the project's integration tier is {config['tier']}; boards need tier 'project' or 'full'. "
                "Reconnect with issue_config.tier='project'."
            )
        engine = self.engine(session_id)
        missing = lacks(engine.platform, "boards")
        if missing is not None:
            engine.platform.close()
            raise Conflict(f"{missing}; keep the status in the issues' labels instead.")
        return engine, config

    def create_board(
        self,
        session_id: int,
        title: str,
        status_mapping: Mapping[str, str] | None,
        board_type: str | None = None,
    ) -> BoardResult:
        """Create the project's board (or, on Jira, find the project's board of that name) and
        remember its number. ``board_type`` is the platform's kind of board (``PlatformSpec.board_type``),
        or ``sprint_board``: a board with sprints (a Jira Software scrum board), refused in plain
        words on a platform without ``iterations``."""
        engine, config = self._board_engine(session_id)
        try:
            _check_board_type(engine.platform, board_type)
            mapping_checked = {**(config["status_mapping"] or {}), **_check_mapping(status_mapping)}
            platform = engine.platform
            if board_type == "sprint_board":
                from taskorch.services.sprints import SprintPlatform

                scrum = cast(SprintPlatform, platform)
                board = engine.call(
                    "create_board", lambda: scrum.create_board(title, board_type="scrum"), mutation=True
                )
            else:
                board = engine.call("create_board", lambda: platform.create_board(title), mutation=True)
        finally:
            engine.platform.close()
        with self.db.transaction() as conn:
            conn.execute(
                update(git_integration_config)
                .where(git_integration_config.c.session_id == session_id)
                .values(board_number=board.number, status_mapping=mapping_checked, updated_at=self.clock())
            )
        columns = columns_of({"platform": config["platform"], "status_mapping": mapping_checked})
        missing = [c for c in columns.values() if c.lower() not in {o.lower() for o in board.status_options}]
        detail = f"board #{board.number} '{board.title}' ready: {board.url}"
        if missing:
            detail += f"; the board lacks column(s) {', '.join(sorted(set(missing)))}: add them on the platform"
        return BoardResult(
            action="create_board",
            board={
                "number": board.number,
                "url": board.url,
                "title": board.title,
                "columns": sorted(board.status_options),
            },
            detail=detail,
        )

    def board_move(self, session_id: int, task_ids: Sequence[int], column: str | None, action: str) -> BoardResult:
        """Add tasks' issues to the board and put each in ``column`` (or the column its status maps to)."""
        engine, config = self._board_engine(session_id)
        if not config["board_number"]:
            raise Conflict(
                (
                    "no board yet: create it first with ",
                    Hint("project_board_manager", {"action": "create_board", "title": REQUIRED}),
                    ".",
                )
            )
        moved: list[dict[str, Any]] = []
        try:
            number = int(config["board_number"])
            board = engine.call("get_board", lambda: engine.platform.get_board(number), mutation=False)
            for task_id in task_ids:
                with self.db.transaction(write=False) as conn:
                    task = self._task_in_session(conn, session_id, task_id)
                    link = self._link(conn, task_id)
                if link is None or link["issue_number"] is None:
                    raise Conflict(
                        (
                            f"task {task['number']} has no issue yet; create it with ",
                            Hint("git_integration", {"action": "create_issue", "task_id": task["number"]}),
                            ".",
                        )
                    )
                issue_number = int(link["issue_number"])
                item, target = self._place_card(engine, board, task, issue_number, column, action, config)
                with self.db.transaction() as conn:
                    sync_store.update_link_of_task(conn, task_id, board_item_id=item)
                moved.append(
                    {
                        "task_id": task["number"],
                        "issue_number": issue_number,
                        "item_id": item,
                        "column": target if action != "add_to_board" else None,
                    }
                )
        finally:
            engine.platform.close()
        return BoardResult(
            action=action,
            board={"number": board.number, "url": board.url},
            moved=moved,
            detail=f"{len(moved)} card(s) {'added' if action == 'add_to_board' else 'moved'}",
        )

    def sync_milestones(self, session_id: int) -> BoardResult:
        """Make sure every release milestone of the project exists on the platform."""
        with self.db.transaction(write=False) as conn:
            rows = list(
                conn.execute(
                    select(release_milestones)
                    .where(release_milestones.c.session_id == session_id)
                    .order_by(release_milestones.c.id)
                ).mappings()
            )
        moved = []
        for row in rows:
            result = self.create_milestone(session_id, row["name"], row["description"], row["target_date"])
            moved.append({"milestone": row["name"], **(result.milestone or {})})
        return BoardResult(action="sync_milestones", moved=moved, detail=f"{len(moved)} milestone(s) in step")

    def _place_card(
        self,
        engine: SyncEngine,
        board: Any,
        task: Mapping[Any, Any],
        issue_number: int,
        column: str | None,
        action: str,
        config: Mapping[Any, Any],
    ) -> tuple[str, str | None]:
        """Add the issue's card to the board and, unless only adding, move it to its column."""
        issue = engine.call("get_issue", lambda: engine.platform.get_issue(issue_number), mutation=False)
        item: str = engine.call("add_to_board", lambda: engine.platform.add_to_board(board, issue), mutation=True)
        target = column or board_column(task, columns_of(config))
        if action != "add_to_board" and target:
            engine.call("move_card", lambda: engine.platform.set_board_status(board, item, target), mutation=True)
        return item, target

    def push_tasks(self, session_id: int, task_ids: Sequence[int]) -> SyncResult:
        """Push the pending changes of these tasks now (no pull)."""
        with self.connected(session_id) as engine:
            return sync_result(engine.run(pull=False, task_ids=list(task_ids)))

    def publish_release(
        self, session_id: int, tag: str, notes: str, sha: str, prerelease: bool
    ) -> tuple[RemoteRelease, str]:
        """Create the platform release of ``tag``, or update it if it exists (a rerun after a
        failure finishes the job instead of failing on "already exists")."""
        with self.connected(session_id) as engine:
            platform = engine.platform
            missing = lacks(platform, "releases")
            if missing is not None:
                raise Conflict(f"{missing}; the tag is pushed, publish its notes by hand.")
            existing = engine.call("get_release", lambda: platform.get_release_by_tag(tag), mutation=False)
            if existing is not None:
                return self._update_release(engine, existing.id, tag, notes), "updated"
            made: list[RemoteRelease] = []

            def lookup() -> RemoteRelease | None:
                found = engine.call("get_release", lambda: platform.get_release_by_tag(tag), mutation=False)
                if found is not None:
                    made.append(found)
                return found

            def create() -> RemoteRelease:
                return platform.create_release(tag, name=tag, body=notes, target_commitish=sha, prerelease=prerelease)

            # The answer may be lost after the platform made the release, or another run made it
            # first: the platform then refuses a second one (GitHub answers 422, GitLab 409), and
            # whatever the refusal, the tag decides: a release found by it is the one to update.
            release = engine.remote.create(
                "create_release", create, lookup=lookup, exists=lambda exc: lookup() is not None
            )
            if made:
                return self._update_release(engine, release.id, tag, notes), "updated"
            return release, "created"

    @staticmethod
    def _update_release(engine: SyncEngine, release_id: int, tag: str, notes: str) -> RemoteRelease:
        return engine.call(
            "update_release", lambda: engine.platform.update_release(release_id, name=tag, body=notes), mutation=True
        )

    def jira_project(self, session_id: int) -> tuple[str, str] | None:
        """``(site, project key)`` when the session's issues live in Jira (``None`` otherwise)."""
        with self.db.transaction(write=False) as conn:
            row = conn.execute(
                select(git_integration_config.c.platform, git_integration_config.c.repository_url).where(
                    git_integration_config.c.session_id == session_id
                )
            ).first()
        if row is None or row[0] != "jira":
            return None
        ref = stored_reference("jira", str(row[1]), self.settings)
        parts = urlsplit(str(row[1]))
        return f"{parts.scheme}://{parts.netloc}", ref.path

    def release_version(self, session_id: int, name: str, notes: str) -> tuple[RemoteMilestone, str]:
        """The Jira version called ``name`` released with ``notes`` as its description: found by
        name or created (no issue is assigned here), then released (the milestone closed) unless it
        is released with these notes already. Notes longer than a version's description may be
        (:data:`VERSION_DESCRIPTION_BYTES`) are cut, saying where the rest is. Returns the version
        and what was done."""
        notes = _fit_description(notes)
        with self.connected(session_id) as engine:
            platform = engine.platform
            versions = engine.call("list_milestones", platform.list_milestones, mutation=False)
            version = next((v for v in versions if v.title == name), None)
            made = version is None
            if version is None:
                version = engine.call(
                    "create_milestone", lambda: platform.create_milestone(name, notes, None), mutation=True
                )
            if version.state == "closed" and version.description == notes:
                return version, "released already"
            number = version.number
            released = engine.call(
                "release_version",
                lambda: platform.update_milestone(number, state="closed", description=notes),
                mutation=True,
            )
            return released, "created and released" if made else "released"

    def push_tag_via_api(self, session_id: int, name: str, sha: str, message: str) -> str:
        """Create the annotated tag ``name`` on ``sha`` through the code host's API (Bitbucket
        Cloud's refs API), adopting one already there on ``sha``. Raises :class:`Conflict` when the
        connection has no such code host or the tag exists on another commit."""
        with self.db.transaction(write=False) as conn:
            config = dict(self.config_row(conn, session_id))
        code = code_host_of(config) or (config if config["platform"] == "bitbucket" else None)
        if code is None or code["platform"] != "bitbucket":
            raise Conflict(
                "this project's code host has no tag API in taskorch (only Bitbucket Cloud's refs API); push the "
                "tag with git instead."
            )
        from taskorch.platforms.bitbucket import BitbucketPlatform

        platform = self.platform_factory(code)
        try:
            if not isinstance(platform, BitbucketPlatform):
                raise Conflict(f"the code host {platform.repository} has no tag API in taskorch.")
            existing = platform.get_tag(name)
            if existing is not None:
                if existing.target != sha:
                    raise Conflict(
                        f"Bitbucket has the tag {name} on {existing.target[:12]}, not on {sha[:12]}; plan another "
                        "version or remove that tag."
                    )
                return f"Bitbucket has {name} on {sha[:12]} already"
            platform.create_tag(name, sha, message)
            return f"{name} created on Bitbucket ({platform.repository}) through the refs API"
        finally:
            platform.close()

    def close_milestone(self, session_id: int, number: int) -> None:
        with self.connected(session_id) as engine:
            engine.call(
                "close_milestone", lambda: engine.platform.update_milestone(number, state="closed"), mutation=True
            )

    def linked_task_ids(self, session_id: int) -> list[int]:
        with self.db.transaction(write=False) as conn:
            return sync_store.issue_task_ids(conn, session_id)
