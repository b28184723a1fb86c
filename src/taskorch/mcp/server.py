"""The MCP server: one thin function per tool over :class:`~taskorch.services.app.Orchestrator`.

Each tool validates its arguments (pydantic, from the signature), calls one service method in a
worker thread, and returns a short text plus the result as structuredContent. A
:class:`~taskorch.errors.TaskorchError` becomes a tool error whose message says what was wrong
and how to fix it; anything else is logged to stderr and masked by the SDK, so no stack trace or
secret reaches the client.

Start-up stays cheap: the services, SQLAlchemy and the database are loaded on the first call,
not when the tool list is served.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, ParamSpec, TypeVar, cast

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from taskorch import __version__, summaries
from taskorch.config import TOKEN_NAME_PATTERN, Settings, git_tool_names
from taskorch.domain.model import ArtifactType, Complexity, Priority, TaskStatus, TaskType
from taskorch.domain.text import parse_id, printable
from taskorch.errors import InvalidInput, NotFound, TaskorchError
from taskorch.hints import Message, finish, render
from taskorch.mcp.schemas import compact_schema, flat_input_schema, flat_output_schema
from taskorch.mcp.words import MCP_WORDS
from taskorch.services.fields import MultiLine, OneLine, input_error
from taskorch.services.models import (
    MAX_ID,
    BoardResult,
    CancelResult,
    CompleteResult,
    DeleteResult,
    ExecuteResult,
    GitResult,
    HealthResult,
    MaintenanceResult,
    PlanResult,
    QueryResult,
    ReconnectResult,
    ReleaseResult,
    RestartResult,
    RestartStatusResult,
    SessionResult,
    ShutdownResult,
    StatusResult,
    SubtaskSpec,
    SynthesisResult,
    UpdateResult,
)

if TYPE_CHECKING:
    from taskorch.services.app import Orchestrator

__all__ = ["PREFIX", "TaskorchServer", "build_server", "compact_schema"]

log = logging.getLogger(__name__)

PREFIX = "orchestrator_"  # the same as taskorch.mcp.words.PREFIX

INSTRUCTIONS = (
    "taskorch orchestrates multi-step software work. Start with orchestrator_initialize_session "
    "(absolute path of the project). Plan with orchestrator_plan_task (a parent plus subtasks with "
    "dependencies), then loop: orchestrator_execute_task (gives the specialist context) -> do the work "
    "-> orchestrator_complete_task (records what you produced). When a parent's subtasks are done, "
    "call orchestrator_synthesize_results. orchestrator_get_status shows the ready queue. Tasks are "
    "named by their number in the project; every tool works on the session initialized last unless "
    "given session_id (another project's session)."
)

#: Tasks per list of get_status: detail=brief (the default; fewer blocked ones, each with its
#: blockers) and detail=full.
STATUS_BRIEF, STATUS_BRIEF_BLOCKED, STATUS_FULL = 5, 3, 20

P = ParamSpec("P")
T = TypeVar("T")


class IssueConfig(BaseModel):
    """How the project's tasks become issues (action=connect)."""

    model_config = ConfigDict(extra="forbid")

    # Checked by the service (taskorch.sync.secrets.check_token_name), not by pydantic here: a
    # pydantic error would carry the rejected value, which may be a token pasted by mistake. The
    # schema still tells clients the shape.
    api_token_name: str | None = Field(
        default=None,
        description="NAME of the environment variable or keyring entry holding the token; never the token "
        "(default GITHUB_TOKEN or GITLAB_TOKEN, by platform). "
        "Limited to the names the user allows (TASKORCH_ALLOWED_TOKEN_NAMES; default GITHUB_TOKEN, "
        "GITLAB_TOKEN, JIRA_API_TOKEN, BITBUCKET_TOKEN, or TASKORCH_*_TOKEN).",
        json_schema_extra={"pattern": TOKEN_NAME_PATTERN, "maxLength": 128},
    )
    tier: Literal["basic", "project", "full"] = "basic"
    default_labels: list[Annotated[OneLine, Field(max_length=50)]] = Field(default_factory=list, max_length=20)
    auto_sync_enabled: bool = Field(default=False, description="Create issues for tasks as they are planned.")
    issue_template: MultiLine | None = Field(
        default=None, max_length=20000, description="Jinja2 (sandboxed) body template."
    )
    conflict_policy: Literal["manual", "local_wins", "remote_wins", "newest_wins"] = "manual"
    progress_comments: bool = Field(default=False, description="Comment on the issue when the task moves.")
    status_mapping: dict[OneLine, Annotated[OneLine, Field(max_length=100)]] | None = None


class MilestoneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[OneLine, Field(min_length=1, max_length=200)]
    description: Annotated[MultiLine, Field(max_length=5000)] = ""
    due_on: date | None = None


M = TypeVar("M", bound=BaseModel)

#: A platform login (GitHub: letters, digits and single hyphens, at most 39 characters).
Login = Annotated[str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$")]

TaskIdArg = Annotated[int, Field(ge=1, le=MAX_ID, description="Task number.")]
OptionalTaskArg = Annotated[int | None, Field(ge=1, le=MAX_ID, description="Task number.")]
#: Explained once, in the server's instructions (omitted: the session initialized last).
SessionArg = Annotated[int | None, Field(ge=1, le=MAX_ID)]


class _Lazy:
    """The orchestrator, created on first use (so listing tools never imports the services)."""

    def __init__(
        self, settings: Settings, reload_settings: Callable[[], Settings] | None, *, freeze_gc: bool = False
    ) -> None:
        self.settings = settings
        self.reload_settings = reload_settings
        self.freeze_gc = freeze_gc
        self._orchestrator: Orchestrator | None = None
        self._lock = anyio.Lock()

    async def get(self) -> Orchestrator:
        if self._orchestrator is None:
            async with self._lock:
                if self._orchestrator is None:
                    self._orchestrator = await anyio.to_thread.run_sync(self._create)
        return self._orchestrator

    def _create(self) -> Orchestrator:
        from taskorch.services.app import Orchestrator

        orchestrator = Orchestrator(self.settings, reload_settings=self.reload_settings)
        orchestrator.start_background()
        if self.freeze_gc:
            import gc

            gc.collect()
            gc.freeze()
        return orchestrator

    def close(self) -> None:
        if self._orchestrator is not None:
            self._orchestrator.close()


class TaskorchServer(MCPServer[Any]):
    """The SDK's server, serving a compact tool list and refusals without the SDK's prefix.

    The tools are registered as unstructured for the SDK (so it does not validate each answer
    against the result model a second time: the services built it from that model) and their
    flat output schemas (:func:`~taskorch.mcp.schemas.flat_output_schema`) are published here,
    computed once per change of the list.
    """

    _tools_cache: list[MCPTool] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Published output schema of each tool, by its full name: a result model, or a function
        #: building the schema (called when the list is first served).
        self.output_schemas: dict[str, type[BaseModel] | Callable[[], dict[str, Any]]] = {}
        self._flat: dict[str, dict[str, Any]] = {}

    def invalidate_tools(self) -> None:
        self._tools_cache = None

    def _output_schema(self, name: str) -> dict[str, Any] | None:
        source = self.output_schemas.get(name)
        if source is None:
            return None
        if name not in self._flat:
            if isinstance(source, type):
                self._flat[name] = flat_output_schema(source)
            else:
                self._flat[name] = source()
        return self._flat[name]

    async def list_tools(self) -> list[MCPTool]:
        if self._tools_cache is None:
            tools = await super().list_tools()
            self._tools_cache = [
                tool.model_copy(
                    update={
                        "input_schema": flat_input_schema(tool.input_schema),
                        "output_schema": self._output_schema(tool.name),
                    }
                )
                for tool in tools
            ]
        return self._tools_cache

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """The SDK's call, with refusals worded as taskorch's own errors.

        Arguments the SDK's validation rejects get the message of every other invalid input
        (``invalid_input: subtasks.2.title: ...``, without echoing the value), and a refusal a
        tool raised (``<kind>: <message>``) reaches the client as it was written: an ``isError``
        result without the SDK's "Error executing tool NAME: " prefix. A crash stays masked by
        the SDK ("Error executing tool NAME", the traceback on stderr only).
        """
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc, UnexpectedToolError):
                raise
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                error = input_error(cause)
                text = f"{error.kind}: {error}"
                log.info("tool %r rejected arguments: %s", name, error.field)
            elif isinstance(cause, ToolError) and not isinstance(cause, UnexpectedToolError):
                text = str(cause)
                log.info("tool %r refused: %r", name, text)
            else:
                raise
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _result_model(fn: Callable[..., Any]) -> type[BaseModel]:
    """The result model of a tool from its return annotation ``Annotated[CallToolResult, Model]``."""
    annotation = str(fn.__annotations__["return"])
    name = annotation.removeprefix("Annotated[CallToolResult, ").removesuffix("]")
    model = globals().get(name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{fn.__qualname__}: return annotation {annotation!r} names no result model")
    return model


def _query_schema() -> dict[str, Any]:
    """query_tasks answers rows (detail=brief) or whole tasks (full): the schema of whole tasks,
    requiring only the fields of a row."""
    from taskorch.services.models import TaskRow

    schema = flat_output_schema(QueryResult)
    schema["properties"]["tasks"]["items"]["required"] = [
        name for name, info in TaskRow.model_fields.items() if info.is_required()
    ]
    return schema


def _validated(model: type[M], data: dict[str, Any]) -> M:
    """``model.model_validate(data)``; a rejected value becomes a tool error naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = input_error(exc)
        raise ToolError(f"{error.kind}: {error}") from None


def _dump(model: BaseModel) -> dict[str, Any]:
    """A result as JSON, without the fields that hold their default (a null parent, an empty
    list of children): the output schemas do not require them, and they cost every answer."""
    return model.model_dump(mode="json", exclude_defaults=True)


def _result(model: BaseModel, summary: str) -> CallToolResult:
    """The result as structuredContent, with its summary as text (control characters escaped)."""
    return CallToolResult(content=[TextContent(type="text", text=printable(summary))], structured_content=_dump(model))


def _resource_id(text: str) -> int:
    """A task id from a resource URI: ASCII digits, 1 to MAX_ID; else "no such resource" (invalid
    params), saying why."""
    try:
        return parse_id(text, field="task_id", maximum=MAX_ID)
    except InvalidInput as exc:
        raise ResourceNotFoundError(str(exc)) from None


def build_server(
    settings: Settings | None = None, *, own_process: bool = False, **server_options: Any
) -> TaskorchServer:
    """The taskorch MCP server, exposing the tools of ``settings.toolsets`` (all by default).

    ``own_process``: the server is what this process is for (``taskorch serve``, stdio or HTTP):
    once the services are loaded, everything loaded so far is moved out of the garbage
    collector's sight (:func:`gc.freeze`), so its full collections traverse only what calls create. Without it a
    full collection walks every module's objects, about 90 ms on this kind of machine, and a
    1,000-subtask plan triggers one every other call. What exists at that moment is never
    collected: over HTTP that includes the first requests in flight, a bounded amount once per
    process. Not for a server built inside another program (tests), whose objects would never be
    collected.

    ``server_options`` go to the SDK's server (the HTTP face passes ``token_verifier``, ``auth``
    and ``middleware``; see :mod:`taskorch.mcp.http`)."""
    from_env = settings is None
    settings = settings or Settings.from_env()
    lazy = _Lazy(settings, Settings.from_env if from_env else None, freeze_gc=own_process)
    enabled = set(settings.tool_names())

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield None
        finally:
            lazy.close()

    server = TaskorchServer(
        "taskorch",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        warn_on_duplicate_tools=False,
        log_level=cast(Any, settings.log_level),  # checked against LOG_LEVELS by Settings.from_env
        **server_options,
    )

    async def call(fn: Callable[[Orchestrator], M], summarize: Callable[[M], str | Message]) -> CallToolResult:
        """Run one service call in a worker thread and map its result and errors.

        A :class:`TaskorchError` becomes ``ToolError("<kind>: <message>")``, and so does a database
        failure raised outside a transaction (VACUUM, checkpoint), once named by
        :meth:`Database.named_error`. Anything else is a bug: the SDK logs its traceback (stderr)
        and the client reads only "Error executing tool <name>".
        """
        orchestrator: Orchestrator | None = None
        try:
            orchestrator = await lazy.get()
            with orchestrator.runtime.call():
                result = await anyio.to_thread.run_sync(fn, orchestrator)
        except TaskorchError as exc:
            raise ToolError(f"{exc.kind}: {exc.render(MCP_WORDS)}") from None
        except Exception as exc:
            named = orchestrator.db.named_error(exc) if orchestrator is not None else None
            if named is None:
                raise
            raise ToolError(f"{named.kind}: {named.render(MCP_WORDS)}") from None
        finish(result, MCP_WORDS)
        return _result(result, render(summarize(result), MCP_WORDS))

    catalog: dict[str, tuple[Callable[..., Awaitable[CallToolResult]], str, ToolAnnotations]] = {}

    def enable(names: list[str]) -> list[str]:
        """Register catalogued tools not yet listed; return the names added."""
        added = []
        for name in names:
            if name in catalog and name not in registered:
                fn, description, annotations = catalog[name]
                server.add_tool(
                    fn, name=PREFIX + name, description=description, annotations=annotations, structured_output=False
                )
                server.output_schemas[PREFIX + name] = output_schemas.get(name) or _result_model(fn)
                registered.add(name)
                added.append(name)
        if added:
            server.invalidate_tools()
        return added

    registered: set[str] = set()
    #: Hand-built output schemas (a tool whose answer has more than one shape).
    output_schemas: dict[str, Callable[[], dict[str, Any]]] = {"query_tasks": _query_schema}

    def tool(
        name: str,
        description: str,
        *,
        read_only: bool = False,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = False,
    ) -> Callable[[Callable[P, Awaitable[CallToolResult]]], Callable[P, Awaitable[CallToolResult]]]:
        def register(fn: Callable[P, Awaitable[CallToolResult]]) -> Callable[P, Awaitable[CallToolResult]]:
            catalog[name] = (
                fn,
                description,
                ToolAnnotations(
                    read_only_hint=read_only,
                    destructive_hint=destructive,
                    idempotent_hint=idempotent,
                    open_world_hint=open_world,
                ),
            )
            if name in enabled:
                enable([name])
            return fn

        return register

    # -- sessions ---------------------------------------------------------------------------

    @tool(
        "initialize_session",
        "Call first: creates or resumes the session of the project holding working_directory (its Git "
        "root); returns the session id, counts, the ready queue and the next step.",
        idempotent=True,
    )
    async def initialize_session(
        ctx: Context,
        working_directory: Annotated[
            str, Field(min_length=1, max_length=4096, description="Absolute path inside the project.")
        ],
        name: Annotated[str | None, Field(max_length=200)] = None,
        repository: Annotated[
            str | None,
            Field(
                max_length=1000,
                description="Origin remote URL (git remote get-url origin): names the project on a team server.",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, SessionResult]:
        result = await call(lambda o: o.initialize_session(working_directory, name, repository), summaries.session)
        # A project connected to a Git platform brings its tools, even when the server was
        # started without TASKORCH_GIT_INTEGRATION.
        orchestrator = await lazy.get()
        tier = await anyio.to_thread.run_sync(orchestrator.project_git_tier)
        if tier and enable(git_tool_names(tier)):
            try:
                await ctx.notify_tools_changed()
            except Exception:  # a stateless client has no channel for it; it sees the tools on its next list
                log.debug("could not notify tools/list_changed", exc_info=True)
        return result

    @tool(
        "get_status",
        "Counts by status, the ready queue (by priority), blocked tasks with their blockers, work in "
        "progress and recent completions. Call to decide what to do next.",
        read_only=True,
    )
    async def get_status(
        detail: Annotated[
            Literal["brief", "full"],
            Field(
                description=f"brief: {STATUS_BRIEF} tasks per list ({STATUS_BRIEF_BLOCKED} blocked); full: "
                f"{STATUS_FULL}. query_tasks lists more."
            ),
        ] = "brief",
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, StatusResult]:
        if detail == "brief":
            return await call(lambda o: o.get_status(session_id, STATUS_BRIEF, STATUS_BRIEF_BLOCKED), summaries.status)
        return await call(lambda o: o.get_status(session_id, STATUS_FULL), summaries.status)

    # -- tasks ------------------------------------------------------------------------------

    @tool(
        "plan_task",
        "Create a task, or a parent with subtasks, in one atomic call (any invalid value rejects it all). "
        "Subtasks name each other by 'key' in depends_on_keys; depends_on takes existing task numbers. "
        "Without specialist_type the router picks one and says why. Next: orchestrator_execute_task on a "
        "ready task.",
    )
    async def plan_task(
        title: Annotated[str, Field(min_length=1, max_length=300, description="Short imperative title.")],
        description: Annotated[str, Field(max_length=20000)] = "",
        task_type: TaskType = TaskType.FEATURE,
        complexity: Complexity = Complexity.MODERATE,
        priority: Priority = Priority.MEDIUM,
        specialist_type: Annotated[str | None, Field(max_length=64, description="Role; omit to route.")] = None,
        estimated_effort: Annotated[str | None, Field(max_length=64, description="e.g. '2h'.")] = None,
        due_date: date | None = None,
        labels: Annotated[list[str], Field(max_length=20)] | None = None,
        acceptance_criteria: Annotated[list[str], Field(max_length=50)] | None = None,
        context: Annotated[str, Field(max_length=50000, description="Background for the specialist.")] = "",
        depends_on: Annotated[
            list[Annotated[int, Field(ge=1, le=MAX_ID)]],
            Field(max_length=200, description="Task numbers in this project that must complete first."),
        ]
        | None = None,
        subtasks: Annotated[list[SubtaskSpec], Field(max_length=1000)] | None = None,
        parent_id: Annotated[int | None, Field(ge=1, le=MAX_ID, description="Task number to plan under.")] = None,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, PlanResult]:
        from taskorch.services.models import TaskFields

        fields = _validated(
            TaskFields,
            {
                "title": title,
                "description": description,
                "task_type": task_type,
                "complexity": complexity,
                "priority": priority,
                "specialist_type": specialist_type,
                "estimated_effort": estimated_effort,
                "due_date": due_date,
                "labels": labels or [],
                "acceptance_criteria": acceptance_criteria or [],
                "context": context,
                "depends_on": depends_on or [],
            },
        )
        return await call(
            lambda o: o.plan_task(fields, subtasks or [], parent_id=parent_id, session_id=session_id),
            summaries.plan,
        )

    @tool(
        "execute_task",
        "Start a task (refused, naming the blockers, while dependencies are unfinished). Returns the role's "
        "instructions, the task, its parents, its dependencies' results and the acceptance criteria. Then "
        "do the work; call orchestrator_complete_task.",
    )
    async def execute_task(
        task_id: TaskIdArg,
        session_id: SessionArg = None,
        force: Annotated[bool, Field(description="Take over another actor's live claim.")] = False,
    ) -> Annotated[CallToolResult, ExecuteResult]:
        return await call(lambda o: o.execute_task(task_id, session_id, force), summaries.execute)

    @tool(
        "complete_task",
        "Record an in-progress task's work and complete it (file_paths inside the project). Says which "
        "tasks became ready, and when the parent's subtasks are all done (then orchestrator_synthesize_results).",
    )
    async def complete_task(
        task_id: TaskIdArg,
        summary: Annotated[str, Field(min_length=1, max_length=5000, description="What was done, briefly.")],
        detailed_work: Annotated[str, Field(max_length=100000, description="Details, decisions, results.")] = "",
        file_paths: Annotated[list[str], Field(max_length=500, description="Files created or changed.")] | None = None,
        artifact_type: ArtifactType = ArtifactType.CODE,
        next_action: Annotated[str | None, Field(max_length=2000, description="Follow-up, if any.")] = None,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, CompleteResult]:
        return await call(
            lambda o: o.complete_task(
                task_id, summary, detailed_work, file_paths or [], artifact_type, next_action, session_id
            ),
            summaries.complete,
        )

    @tool(
        "query_tasks",
        "Find tasks by status, type, specialist, complexity, priority, parent, labels (all required), "
        "created/updated ranges or full-text 'text'. Sorted and paged; 'total' counts all matches. "
        "detail=full (or include_children/include_artifacts) gives whole tasks.",
        read_only=True,
    )
    async def query_tasks(
        status: list[TaskStatus] | None = None,
        task_type: list[TaskType] | None = None,
        specialist_type: list[str] | None = None,
        complexity: list[Complexity] | None = None,
        priority: list[Priority] | None = None,
        parent_id: OptionalTaskArg = None,
        roots_only: bool = False,
        labels: list[str] | None = None,
        created_after: AwareDatetime | None = None,
        created_before: AwareDatetime | None = None,
        updated_after: AwareDatetime | None = None,
        updated_before: AwareDatetime | None = None,
        text: Annotated[str | None, Field(max_length=500, description="Words to search for.")] = None,
        task_ids: Annotated[
            list[Annotated[int, Field(ge=1, le=MAX_ID)]],
            Field(max_length=500, description="Task numbers in this project."),
        ]
        | None = None,
        include_archived: bool = False,
        sort: Literal["created_at", "updated_at", "priority", "due_date", "title", "id"] = "created_at",
        order: Literal["asc", "desc"] = "desc",
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
        offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0,
        include_children: bool = False,
        include_artifacts: bool = False,
        detail: Annotated[
            Literal["brief", "full"],
            Field(
                description="brief: rows (id, title, status, priority, parent, labels, depends_on, version); "
                "full: whole tasks."
            ),
        ] = "brief",
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, QueryResult]:
        filters = {
            "status": [s.value for s in status or []],
            "task_type": [t.value for t in task_type or []],
            "specialist_type": specialist_type or [],
            "complexity": [c.value for c in complexity or []],
            "priority": [p.value for p in priority or []],
            "parent_id": parent_id,
            "roots_only": roots_only,
            "labels": labels or [],
            "created_after": created_after,
            "created_before": created_before,
            "updated_after": updated_after,
            "updated_before": updated_before,
            "text": text,
            "task_ids": task_ids or [],
            "include_archived": include_archived,
            "sort": sort,
            "order": order,
            "limit": limit,
            "offset": offset,
            "include_children": include_children,
            "include_artifacts": include_artifacts,
        }
        if detail == "brief" and not (include_children or include_artifacts):
            return await call(lambda o: o.query_briefs(session_id, **filters), summaries.query)
        return await call(lambda o: o.query_tasks(session_id, **filters), summaries.query)

    @tool(
        "update_task",
        "Change only the fields given: status pending or blocked (with status_reason); depends_on replaces "
        "the dependencies; assignees and milestone reach the linked issue; 'clear' empties due_date, "
        "estimated_effort or milestone. expected_version (from your last read) refuses the update if the "
        "task changed since.",
    )
    async def update_task(
        task_id: TaskIdArg,
        expected_version: Annotated[int | None, Field(ge=1)] = None,
        title: Annotated[str | None, Field(min_length=1, max_length=300)] = None,
        description: Annotated[str | None, Field(max_length=20000)] = None,
        task_type: TaskType | None = None,
        complexity: Complexity | None = None,
        priority: Priority | None = None,
        specialist_type: Annotated[str | None, Field(max_length=64)] = None,
        estimated_effort: Annotated[str | None, Field(max_length=64)] = None,
        due_date: date | None = None,
        labels: Annotated[list[str], Field(max_length=20)] | None = None,
        acceptance_criteria: Annotated[list[str], Field(max_length=50)] | None = None,
        context: Annotated[str | None, Field(max_length=50000)] = None,
        depends_on: Annotated[
            list[Annotated[int, Field(ge=1, le=MAX_ID)]],
            Field(max_length=200, description="Task numbers in this project; replaces the dependencies."),
        ]
        | None = None,
        status: Literal["pending", "blocked"] | None = None,
        status_reason: Annotated[str | None, Field(max_length=2000)] = None,
        assignees: Annotated[list[Login], Field(max_length=10, description="Platform logins; [] clears.")]
        | None = None,
        milestone: Annotated[str | None, Field(min_length=1, max_length=200, description="Milestone title.")] = None,
        clear: list[Literal["due_date", "estimated_effort", "milestone"]] | None = None,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, UpdateResult]:
        from taskorch.services.models import TaskFields

        given = {
            "title": title,
            "description": description,
            "task_type": task_type,
            "complexity": complexity,
            "priority": priority,
            "specialist_type": specialist_type,
            "estimated_effort": estimated_effort,
            "due_date": due_date,
            "labels": labels,
            "acceptance_criteria": acceptance_criteria,
            "context": context,
            "depends_on": depends_on,
        }
        given = {k: v for k, v in given.items() if v is not None}
        # Validate through the same model as plan_task (label and criterion rules), then keep
        # only what was given.
        checked = _validated(TaskFields, {"title": "x", **given}).model_dump(mode="python")
        changes: dict[str, Any] = {}
        for key in given:
            value = checked[key]
            changes[key] = value.value if hasattr(value, "value") else value
        for key in clear or []:
            changes[key] = None
        if status is not None:
            changes["status"] = status
        if status_reason is not None:
            changes["status_reason"] = status_reason
        if assignees is not None:
            changes["assignees"] = sorted(dict.fromkeys(assignees))
        if milestone is not None:
            changes["milestone"] = milestone
        return await call(lambda o: o.update_task(task_id, changes, expected_version, session_id), summaries.update)

    @tool(
        "cancel_task",
        "Cancel a task with a reason; its recorded work is kept. A task with open subtasks needs "
        "cascade=true (cancels them too). Lists dependents left stranded.",
        destructive=True,
    )
    async def cancel_task(
        task_id: TaskIdArg,
        reason: Annotated[str, Field(min_length=1, max_length=2000)],
        cascade: bool = False,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, CancelResult]:
        return await call(lambda o: o.cancel_task(task_id, reason, cascade, session_id), summaries.cancel)

    @tool(
        "delete_task",
        "Archive a task and its subtasks (hidden from queries and counts, history kept); hard=true deletes "
        "for good (cascade=true with subtasks). Refused while a remaining task depends on an unfinished one.",
        destructive=True,
    )
    async def delete_task(
        task_id: TaskIdArg, hard: bool = False, cascade: bool = False, session_id: SessionArg = None
    ) -> Annotated[CallToolResult, DeleteResult]:
        return await call(lambda o: o.delete_task(task_id, hard, cascade, session_id), summaries.delete)

    @tool(
        "synthesize_results",
        "Combine the completed subtasks' summaries and artifacts into a Markdown synthesis on the parent; "
        "completes the parent when no subtask is open, else lists what is.",
    )
    async def synthesize_results(
        parent_task_id: TaskIdArg, session_id: SessionArg = None
    ) -> Annotated[CallToolResult, SynthesisResult]:
        return await call(lambda o: o.synthesize_results(parent_task_id, session_id), summaries.synthesis)

    # -- maintenance and health -------------------------------------------------------------

    @tool(
        "maintenance_coordinator",
        "Housekeeping. scan_cleanup: stale in-progress tasks back to pending, orphans removed. "
        "validate_structure: foreign keys, cycles, parent/child status, counters, integrity. "
        "archive_completed: archive tasks finished over older_than_days ago. vacuum: compact the "
        "database. prepare_handover: a Markdown handover. dry_run (default true) reports only.",
    )
    async def maintenance_coordinator(
        action: Literal["scan_cleanup", "validate_structure", "archive_completed", "vacuum", "prepare_handover"],
        dry_run: bool = True,
        older_than_days: Annotated[int, Field(ge=0, le=36500)] = 30,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, MaintenanceResult]:
        return await call(
            lambda o: o.maintenance_coordinator(action, dry_run, older_than_days, session_id),
            summaries.maintenance,
        )

    @tool(
        "health_check",
        "Database reachable and at the newest migration, integrity, disk space, uptime, version and the "
        "state of each component.",
        read_only=True,
    )
    async def health_check() -> Annotated[CallToolResult, HealthResult]:
        return await call(lambda o: o.health_check(), summaries.health)

    # -- lifecycle --------------------------------------------------------------------------

    @tool(
        "restart_server",
        "Restart the server's components in process (reload settings, reopen the database, restart "
        "background work) without dropping this connection. Recorded in the restart history.",
    )
    async def restart_server(
        reason: Annotated[str, Field(min_length=1, max_length=500)] = "requested by client",
        create_new_database: Annotated[
            bool,
            Field(
                description="Only when the SQLite file was deleted while the server ran: start over with a new, "
                "empty database at that path (otherwise the restart refuses)."
            ),
        ] = False,
    ) -> Annotated[CallToolResult, RestartResult]:
        return await call(lambda o: o.restart_server(reason, create_new_database), summaries.restart)

    @tool(
        "shutdown_prepare",
        "Checkpoint the database and report whether the server can stop now (calls in flight, background work).",
        idempotent=True,
    )
    async def shutdown_prepare() -> Annotated[CallToolResult, ShutdownResult]:
        return await call(lambda o: o.shutdown_prepare(), summaries.shutdown)

    @tool(
        "reconnect_test",
        "Drop the database connections, reconnect and query; reports the time of each step in seconds.",
        idempotent=True,
    )
    async def reconnect_test() -> Annotated[CallToolResult, ReconnectResult]:
        return await call(lambda o: o.reconnect_test(), summaries.reconnect)

    @tool("restart_status", "The restart history with timings and errors, and the uptime.", read_only=True)
    async def restart_status(
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> Annotated[CallToolResult, RestartStatusResult]:
        return await call(lambda o: o.restart_status(limit), summaries.restart_status)

    # -- Git platform integration ---------------------------------------------------------

    @tool(
        "git_integration",
        "Keep tasks in step with GitHub, GitLab or Jira issues. Actions: connect (repository='owner/name', "
        "'gitlab:group/sub/project', 'bitbucket:ws/repo' or 'jira:KEY'; platform; jira; issue_config "
        "with api_token_name = the NAME of the env var or keyring entry holding the token, tier, labels, "
        "auto_sync_enabled, issue_template, conflict_policy); create_issue / update_issue (task_id); "
        "link_task (task_id, issue_number); sync_status (pull remote changes, push local ones; reports "
        "moved, failed, conflicts, rate limit); status (no network); create_milestone (milestone); "
        "list_conflicts; resolve_conflict (conflict_id, resolution local|remote); set_import_policy "
        "(import_policy off|all|label:NAME: which issues opened on the platform become tasks).",
        open_world=True,
    )
    async def git_integration(
        action: Literal[
            "connect",
            "status",
            "create_issue",
            "update_issue",
            "link_task",
            "sync_status",
            "create_milestone",
            "list_conflicts",
            "resolve_conflict",
            "set_import_policy",
        ],
        platform: Annotated[
            Literal["github", "gitlab"] | None,
            Field(description="Omit to infer it from the repository (a gitlab: prefix or its host), else github."),
        ] = None,
        repository: Annotated[
            str | None, Field(max_length=300, description="owner/name, group/sub/project, or its URL.")
        ] = None,
        issue_config: IssueConfig | None = None,
        jira: Annotated[
            str | None,
            Field(
                max_length=300,
                description="Issues in this Jira project, the repository being code only (needed for bitbucket:): "
                "https://SITE.atlassian.net/browse/KEY.",
            ),
        ] = None,
        task_id: OptionalTaskArg = None,
        issue_number: Annotated[int | None, Field(ge=1, le=MAX_ID)] = None,
        milestone: MilestoneSpec | None = None,
        conflict_id: Annotated[int | None, Field(ge=1, le=MAX_ID)] = None,
        resolution: Literal["local", "remote"] | None = None,
        import_policy: Annotated[
            str | None, Field(max_length=60, description="off, all or label:NAME (for set_import_policy).")
        ] = None,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, GitResult]:
        def need(value: T | None, field: str, fix: str) -> T:
            if value is None:
                raise ToolError(f"invalid_input: {field}: is required for action={action}. Fix: {fix}")
            return value

        if action == "connect":
            repo_name = need(repository, "repository", "pass 'owner/name' or 'gitlab:group/sub/project'.")
            cfg = issue_config or IssueConfig()

            def connect(o: Orchestrator) -> GitResult:
                from taskorch.services.connection import ConnectionConfig

                config = ConnectionConfig(
                    repository=repo_name,
                    platform=platform,
                    api_token_name=cfg.api_token_name,
                    tier=cfg.tier,
                    default_labels=tuple(cfg.default_labels),
                    auto_sync_enabled=cfg.auto_sync_enabled,
                    issue_template=cfg.issue_template,
                    conflict_policy=cfg.conflict_policy,
                    progress_comments=cfg.progress_comments,
                    status_mapping=dict(cfg.status_mapping or {}),
                    jira=jira,
                )
                # An assistant: token names limited to the user's allow-list, the address to the settings.
                return o.git_connect(config, session_id=session_id, trusted=False)

            return await call(connect, summaries.git)
        if action == "status":
            return await call(lambda o: o.git_config(session_id), summaries.git)
        if action in ("create_issue", "update_issue", "link_task"):
            tid = need(task_id, "task_id", "pass the task's number in this project.")
            if action == "create_issue":
                return await call(lambda o: o.git_create_issue(tid, session_id), summaries.git)
            if action == "update_issue":
                return await call(lambda o: o.git_update_issue(tid, session_id), summaries.git)
            number = need(issue_number, "issue_number", "pass the number of the existing issue.")
            return await call(lambda o: o.git_link_task(tid, number, session_id), summaries.git)
        if action == "sync_status":
            return await call(lambda o: o.git_sync(session_id), summaries.git)
        if action == "create_milestone":
            spec = need(milestone, "milestone", "pass {title, description, due_on}.")
            return await call(
                lambda o: o.git_create_milestone(spec.title, spec.description, spec.due_on, session_id), summaries.git
            )
        if action == "list_conflicts":
            return await call(lambda o: o.git_conflicts(session_id), summaries.git)
        if action == "set_import_policy":
            policy = need(import_policy, "import_policy", "pass off, all or label:NAME.")
            return await call(lambda o: o.git_set_import_policy(policy, session_id), summaries.git)
        cid = need(conflict_id, "conflict_id", "pass an id from action=list_conflicts.")
        choice = need(resolution, "resolution", "pass local (keep the task's value) or remote (take the issue's).")
        return await call(lambda o: o.git_resolve_conflict(cid, choice, session_id), summaries.git)

    @tool(
        "project_board_manager",
        "The project's board (GitHub Projects v2; GitLab issue board whose lists are status:: labels, so "
        "move_card is a label change; Jira Software board, move_card a workflow transition). Actions: "
        "create_board (title, status_mapping: proposed/approved/in_progress/blocked/completed/cancelled -> "
        "column; board_type=sprint_board makes a Jira scrum board); add_to_board "
        "and move_card (feature_id = task number in this project; column optional, else from its status); "
        "update_progress "
        "(every linked task to its column); sync_milestones (release milestones onto the platform). "
        "Sprints (Jira only): create_sprint (title, start_date, end_date, goal), add_to_sprint (feature_id; "
        "sprint_id, else the active or next sprint), start_sprint, close_sprint (one active sprint per board; "
        "unfinished issues go back to the backlog). log_work (feature_id, time_spent e.g. 1h30m, comment) "
        "logs time on the issue (Jira, GitLab).",
        open_world=True,
    )
    async def project_board_manager(
        action: Literal[
            "create_board",
            "add_to_board",
            "move_card",
            "update_progress",
            "sync_milestones",
            "create_sprint",
            "add_to_sprint",
            "start_sprint",
            "close_sprint",
            "log_work",
        ],
        board_type: Literal["github_projects_v2", "gitlab_issue_board", "jira_board", "sprint_board"] | None = None,
        feature_id: OptionalTaskArg = None,
        title: Annotated[str | None, Field(max_length=200)] = None,
        column: Annotated[str | None, Field(max_length=100)] = None,
        status_mapping: dict[str, Annotated[str, Field(max_length=100)]] | None = None,
        sprint_id: Annotated[int | None, Field(ge=1, le=MAX_ID)] = None,
        start_date: date | None = None,
        end_date: date | None = None,
        goal: Annotated[str | None, Field(max_length=1000)] = None,
        time_spent: Annotated[str | None, Field(max_length=20)] = None,
        comment: Annotated[str | None, Field(max_length=5000)] = None,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, BoardResult]:
        ids = [feature_id] if feature_id is not None else []
        return await call(
            lambda o: o.board_manager(
                action,
                task_ids=ids,
                title=title,
                column=column,
                status_mapping=status_mapping,
                board_type=board_type,
                sprint_id=sprint_id,
                start_date=start_date,
                end_date=end_date,
                goal=goal,
                time_spent=time_spent,
                comment=comment,
                session_id=session_id,
            ),
            summaries.board,
        )

    @tool(
        "release_coordinator",
        "Turn finished tasks into a tagged, published release. Actions: plan_release (release_version, "
        "SemVer; omit to have one proposed; included_features = task numbers in this project; returns a "
        "readiness report); "
        "create_milestone (the release's milestone, with its tasks' issues on it); generate_changelog "
        "(release_notes_template automated|manual|hybrid; write_changelog updates CHANGELOG.md); "
        "tag_release (annotated tag on commit, push when asked, platform release created or updated, "
        "milestone closed; dry_run shows the steps; force releases despite open work). A failed "
        "tag_release resumes when called again.",
        open_world=True,
    )
    async def release_coordinator(
        action: Literal["plan_release", "create_milestone", "generate_changelog", "tag_release"],
        release_version: Annotated[str | None, Field(max_length=100, description="e.g. 1.4.0 or v2.0.0-rc.1")] = None,
        included_features: Annotated[
            list[Annotated[int, Field(ge=1, le=MAX_ID)]],
            Field(max_length=1000, description="Task numbers in this project."),
        ]
        | None = None,
        target_date: date | None = None,
        description: Annotated[str | None, Field(max_length=5000)] = None,
        release_notes_template: Literal["automated", "manual", "hybrid"] = "automated",
        write_changelog: bool = False,
        notes: Annotated[str | None, Field(max_length=20000, description="Hand-written notes (hybrid).")] = None,
        commit: Annotated[str, Field(min_length=1, max_length=200)] = "HEAD",
        push: bool = False,
        remote: Annotated[str, Field(min_length=1, max_length=100)] = "origin",
        tag_via_api: Annotated[bool, Field(description="Push through Bitbucket's refs API, not git.")] = False,
        dry_run: bool = False,
        force: bool = False,
        session_id: SessionArg = None,
    ) -> Annotated[CallToolResult, ReleaseResult]:
        if action == "plan_release":
            return await call(
                lambda o: o.release_plan(release_version, included_features, target_date, description, session_id),
                summaries.release,
            )
        if action == "create_milestone":
            return await call(lambda o: o.release_milestone(release_version, session_id), summaries.release)
        if action == "generate_changelog":
            return await call(
                lambda o: o.release_changelog(
                    release_version, release_notes_template, write_changelog, notes, commit, session_id
                ),
                summaries.release,
            )
        return await call(
            lambda o: o.release_tag(
                release_version, commit, push, remote, dry_run, force, session_id, via_api=tag_via_api
            ),
            summaries.release,
        )

    # -- resources --------------------------------------------------------------------------

    async def read(fn: Callable[[Orchestrator], BaseModel]) -> str:
        orchestrator = await lazy.get()
        try:
            result = await anyio.to_thread.run_sync(fn, orchestrator)
        except NotFound as exc:
            raise ResourceNotFoundError(exc.render(MCP_WORDS)) from None
        except TaskorchError as exc:
            raise ResourceError(exc.render(MCP_WORDS)) from None
        return json.dumps(_dump(result), indent=1)

    @server.resource(
        "taskorch://status",
        name="status",
        description="Status of the session this server initialized last (JSON, as orchestrator_get_status).",
        mime_type="application/json",
    )
    async def status_resource() -> str:
        return await read(lambda o: o.get_status())

    @server.resource(
        "taskorch://tasks/{task_id}",
        name="task",
        description="One task of the current session's project, by its number, with subtasks and artifacts (JSON).",
        mime_type="application/json",
    )
    async def task_resource(task_id: str) -> str:
        number = _resource_id(task_id)
        return await read(lambda o: o.get_task(number))

    @server.resource(
        "taskorch://audit",
        name="audit",
        description="The newest 100 audit entries of the session this server initialized last (JSON).",
        mime_type="application/json",
    )
    async def audit_resource() -> str:
        return await read(lambda o: o.audit_trail(limit=100))

    @server.resource(
        "taskorch://tasks/{task_id}/audit",
        name="task_audit",
        description="Every audit entry of one task of the current session's project, by its number, oldest first.",
        mime_type="application/json",
    )
    async def task_audit_resource(task_id: str) -> str:
        number = _resource_id(task_id)
        return await read(lambda o: o.audit_trail(task_id=number, limit=10_000))

    return server
