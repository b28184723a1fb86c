"""The specialist role library (built-ins, project overrides, malformed files) and the router."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from taskorch.config import project_roles_dir
from taskorch.domain.model import Complexity, TaskType
from taskorch.errors import InvalidInput
from taskorch.specialists import BUILTIN_ROLE_NAMES, RoleLibrary, route

EXPECTED_TASK_TYPES = {
    "architect": ("design",),
    "implementer": ("feature", "refactor", "chore"),
    "tester": ("testing",),
    "reviewer": ("review",),
    "documenter": ("documentation",),
    "researcher": ("research",),
    "debugger": ("bugfix",),
    "devops": ("deployment",),
    "analyst": ("analysis",),
    "coordinator": (),
    "security": ("security",),
}

VALID_FRONT = """+++
name = "{name}"
title = "Data Engineer"
summary = "Builds data pipelines."
task_types = {task_types}
keywords = {keywords}
+++
"""


def write_role(
    root: Path,
    name: str,
    *,
    task_types: str = "[]",
    keywords: str = '["etl", "warehouse"]',
    body: str = "Load the data carefully.\n",
) -> Path:
    folder = project_roles_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(VALID_FRONT.format(name=name, task_types=task_types, keywords=keywords) + body, encoding="utf-8")
    return path


def pick(
    library: RoleLibrary,
    title: str,
    description: str = "",
    task_type: str = "chore",
    complexity: str = "moderate",
) -> tuple[str, str]:
    return route(library, title=title, description=description, task_type=task_type, complexity=complexity)


@pytest.fixture
def library() -> RoleLibrary:
    return RoleLibrary.load()


# --- built-ins -------------------------------------------------------------------------------


def test_all_builtins_load_with_instructions(library: RoleLibrary) -> None:
    assert library.names() == sorted(BUILTIN_ROLE_NAMES)
    assert len(library) == 11
    for role in library.roles():
        assert role.source == "builtin"
        assert role.title and role.summary and "\n" not in role.summary
        assert len(role.instructions.splitlines()) >= 15
        assert "complete_task" in role.instructions
        assert role.instructions == role.instructions.strip()
        assert role.task_types == EXPECTED_TASK_TYPES[role.name]
        assert role.keywords, role.name
        assert all(k == k.lower() for k in role.keywords)


def test_builtin_file_names_match_role_names() -> None:
    folder = resources.files("taskorch.specialists").joinpath("roles")
    stems = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".md"):
            continue
        text = entry.read_text(encoding="utf-8")
        front = text.split("+++\n")[1]
        stem = entry.name.removesuffix(".md")
        assert tomllib.loads(front)["name"] == stem
        stems.append(stem)
    assert sorted(stems) == sorted(BUILTIN_ROLE_NAMES)


def test_builtins_are_parsed_once(library: RoleLibrary) -> None:
    assert RoleLibrary.load().get("tester") is library.get("tester")


def test_library_protocol(library: RoleLibrary) -> None:
    assert "tester" in library
    assert "nobody" not in library
    assert [r.name for r in library.roles()] == library.names()
    assert library.preference()[0] == "implementer"


def test_get_unknown_lists_known_names(library: RoleLibrary) -> None:
    with pytest.raises(InvalidInput) as caught:
        library.get("wizard")
    assert caught.value.field == "specialist_type"
    message = str(caught.value)
    assert "unknown role 'wizard'" in message
    assert "architect, coordinator" in message
    for name in BUILTIN_ROLE_NAMES:
        assert name in message


# --- project roles ---------------------------------------------------------------------------


def test_project_without_roles_dir_has_only_builtins(tmp_path: Path) -> None:
    assert RoleLibrary.load(tmp_path).names() == sorted(BUILTIN_ROLE_NAMES)


def test_project_override_replaces_builtin(tmp_path: Path) -> None:
    path = write_role(tmp_path, "tester", task_types='["testing"]', keywords='["pytest"]', body="Use our harness.\n")
    library = RoleLibrary.load(str(tmp_path))
    tester = library.get("tester")
    assert tester.instructions == "Use our harness."
    assert tester.source == str(path)
    assert tester.title == "Data Engineer"
    assert len(library) == 11
    # The packaged role is untouched for a library without the override.
    assert RoleLibrary.load().get("tester").source == "builtin"


def test_project_role_is_added_and_routable(tmp_path: Path) -> None:
    write_role(tmp_path, "data-engineer", keywords='["etl", "warehouse"]')
    library = RoleLibrary.load(tmp_path)
    assert "data-engineer" in library
    assert len(library) == 12
    assert library.preference()[-1] == "data-engineer"
    name, reason = pick(library, "Nightly ETL into the warehouse", task_type="chore")
    assert name == "data-engineer"
    assert "etl, warehouse" in reason


def test_project_role_task_types_take_part(tmp_path: Path) -> None:
    write_role(tmp_path, "qa-lead", task_types='["testing"]', keywords="[]")
    name, _ = pick(RoleLibrary.load(tmp_path), "Check the thing", task_type="testing")
    # Tied with the built-in tester on the task type; built-ins come first in preference.
    assert name == "tester"
    write_role(tmp_path, "qa-lead", task_types='["testing"]', keywords='["thing"]')
    name, reason = pick(RoleLibrary.load(tmp_path), "Check the thing", task_type="testing")
    assert name == "qa-lead"
    assert "task_type 'testing' maps to qa-lead" in reason


def test_roles_path_that_is_a_file(tmp_path: Path) -> None:
    folder = project_roles_dir(tmp_path)
    folder.parent.mkdir(parents=True)
    folder.write_text("not a directory")
    with pytest.raises(InvalidInput, match="is not a directory"):
        RoleLibrary.load(tmp_path)


GOOD = VALID_FRONT.format(name="{name}", task_types="[]", keywords="[]")

MALFORMED: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "no_front_matter": ("# Just markdown\n", "missing front matter"),
    "unclosed": ('+++\nname = "unclosed"\n', "never closed"),
    "bad_toml": (
        '+++\nname = "bad_toml"\ntitle = "T"\nsummary = = "x"\n+++\nbody\n',
        ("invalid TOML in the front matter", "at line 4, column"),
    ),
    "stem_mismatch": (GOOD.format(name="other") + "body\n", "name 'other' does not match the file name"),
    "9lives": (GOOD.format(name="9lives") + "body\n", "name '9lives' is not a valid role name"),
    "missing_keys": ('+++\nname = "missing_keys"\ntitle = "T"\n+++\nbody\n', "lacks key(s): summary"),
    "unknown_key": (
        GOOD.format(name="unknown_key").replace("keywords", 'colour = "red"\nkeywords') + "body\n",
        "unknown key(s): colour",
    ),
    "title_type": (
        '+++\nname = "title_type"\ntitle = 3\nsummary = "s"\ntask_types = []\nkeywords = []\n+++\nbody\n',
        "title must be a string, not an integer",
    ),
    "types_type": (
        '+++\nname = "types_type"\ntitle = "T"\nsummary = "s"\ntask_types = "testing"\nkeywords = []\n+++\nbody\n',
        "task_types must be an array of strings, not a string",
    ),
    "keyword_item": (
        '+++\nname = "keyword_item"\ntitle = "T"\nsummary = "s"\ntask_types = []\nkeywords = ["ok", 1]\n+++\nbody\n',
        "keywords[1] must be a string, not an integer",
    ),
    "bad_task_type": (
        '+++\nname = "bad_task_type"\ntitle = "T"\nsummary = "s"\ntask_types = ["poetry"]\nkeywords = []\n+++\nbody\n',
        "task_types has unknown value(s): 'poetry'",
    ),
    "no_body": (GOOD.format(name="no_body") + "\n  \n", "no instructions"),
}


@pytest.mark.parametrize("stem", sorted(MALFORMED))
def test_malformed_project_role(tmp_path: Path, stem: str) -> None:
    text, problem = MALFORMED[stem]
    folder = project_roles_dir(tmp_path)
    folder.mkdir(parents=True)
    path = folder / f"{stem}.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        RoleLibrary.load(tmp_path)
    assert caught.value.field == str(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for fragment in (problem,) if isinstance(problem, str) else problem:
        assert fragment in message
    assert "Fix: " in message


def test_non_utf8_project_role(tmp_path: Path) -> None:
    folder = project_roles_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "latin.md").write_bytes(b'+++\nname = "latin"\ntitle = "caf\xe9"\n')
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        RoleLibrary.load(tmp_path)


# --- router ----------------------------------------------------------------------------------


def test_route_testing_to_tester(library: RoleLibrary) -> None:
    name, reason = pick(library, "Raise pytest coverage of the parser", task_type="testing")
    assert name == "tester"
    assert reason == "task_type 'testing' maps to tester; keywords matched: pytest, coverage"


def test_route_bugfix_to_debugger(library: RoleLibrary) -> None:
    name, reason = pick(library, "Login page misbehaves", task_type="bugfix")
    assert name == "debugger"
    assert "task_type 'bugfix' maps to debugger" in reason


def test_route_by_keywords_over_task_type(library: RoleLibrary) -> None:
    name, reason = pick(library, "Write README and API docs", task_type="feature", complexity="simple")
    assert name == "documenter"
    assert "readme" in reason and "doc" in reason
    assert "keywords" in reason


def test_route_complex_feature_to_architect(library: RoleLibrary) -> None:
    for complexity in ("complex", "very_complex"):
        name, reason = pick(library, "Payments subsystem", "Accept card payments end to end", "feature", complexity)
        assert name == "architect"
        assert "design first" in reason and complexity in reason
    name, _ = pick(library, "Payments subsystem", task_type="feature", complexity="moderate")
    assert name == "implementer"


def test_complex_feature_yields_to_a_stronger_signal(library: RoleLibrary) -> None:
    name, _ = pick(library, "Add pytest coverage for checkout", task_type="feature", complexity="complex")
    assert name == "tester"


def test_route_without_signals_defaults_to_implementer(tmp_path: Path) -> None:
    # Nobody owns 'chore' once the project's implementer drops it, and nothing matches.
    write_role(tmp_path, "implementer", task_types='["feature", "refactor"]', keywords="[]")
    name, reason = pick(RoleLibrary.load(tmp_path), "Misc", "", task_type="chore")
    assert (name, reason) == ("implementer", "no rule matched; defaulting to implementer")


def test_route_plain_task_goes_to_implementer(library: RoleLibrary) -> None:
    assert pick(library, "Misc", task_type="chore") == (
        "implementer",
        "task_type 'chore' maps to implementer",
    )


def test_keywords_match_whole_words_and_plurals(library: RoleLibrary) -> None:
    name, reason = pick(library, "Flaky tests in the suite", task_type="chore")
    assert name == "tester"
    assert "flaky, test" in reason
    # "contest" and "attests" contain "test" but are not the word.
    assert pick(library, "Contest attests", task_type="chore")[0] == "implementer"


def test_title_hits_count_double(library: RoleLibrary) -> None:
    # Two documenter keywords: 2 + 2 in the title beats the task type's 3, 1 + 1 in the description does not.
    assert pick(library, "Update the changelog and guide", task_type="chore")[0] == "documenter"
    assert pick(library, "Update", "the changelog and guide", task_type="chore")[0] == "implementer"


def test_route_accepts_enum_members(library: RoleLibrary) -> None:
    by_enum = route(library, title="x", description="", task_type=TaskType.DEPLOYMENT, complexity=Complexity.SIMPLE)
    assert by_enum == ("devops", "task_type 'deployment' maps to devops")


def test_route_rejects_unknown_values(library: RoleLibrary) -> None:
    with pytest.raises(InvalidInput, match="task_type: unknown task type 'poetry'"):
        pick(library, "x", task_type="poetry")
    with pytest.raises(InvalidInput, match="complexity: unknown complexity 'huge'"):
        pick(library, "x", complexity="huge")


def test_route_is_deterministic(tmp_path: Path) -> None:
    write_role(tmp_path, "data-engineer", keywords='["pipeline", "etl"]')
    args = {
        "title": "CI pipeline for the ETL job",
        "description": "Deploy with docker; add pytest coverage and a README",
        "task_type": "feature",
        "complexity": "complex",
    }
    first = route(RoleLibrary.load(tmp_path), **args)
    for _ in range(5):
        assert route(RoleLibrary.load(tmp_path), **args) == first


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("Fix the crash in the database SCHEMAS", "Measure it; write tests and documentation."),
        ("Write the docſ", "the \u212aey ſecurity reviews"),  # long s and Kelvin sign match s and k
        ("Añadir tests für die API", "Ünïcödé design notes, ERRORS and metrics"),
        ("plain title", ""),
        ("", "Refactor the interfaces-and-contracts; profile_it, tests_"),
    ],
)
def test_the_fast_keyword_scan_finds_what_each_keyword_pattern_finds(title: str, description: str) -> None:
    from taskorch.specialists import _keyword_pattern, _Matcher, _score, _Texts

    for role in RoleLibrary.load(None).roles():
        found = _score(_Matcher.of(role), texts=_Texts.of(title, description), task_type="chore", design_first=False)
        expected = set()
        for keyword in role.keywords:
            if _keyword_pattern(keyword).search(title) or _keyword_pattern(keyword).search(description):
                expected.add(keyword)
        assert set(found.keywords) == expected, role.name
