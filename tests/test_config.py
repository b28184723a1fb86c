"""Settings from the environment: defaults, and a clear error naming a bad variable."""

from __future__ import annotations

import pytest

from taskorch.config import TOOLSETS, Settings
from taskorch.errors import InvalidInput


def test_defaults_list_every_core_tool_and_no_git_tool() -> None:
    settings = Settings.from_env({"TASKORCH_DATABASE_URL": "sqlite:///x.db"})
    assert settings.toolsets == tuple(TOOLSETS)
    assert len(settings.tool_names()) == 16
    assert settings.git_integration == "disabled"
    assert (settings.mutation_spacing, settings.max_retry_wait, settings.log_level) == (1.0, 120.0, "WARNING")


@pytest.mark.parametrize(
    ("tier", "extra"),
    [
        ("basic", {"git_integration"}),
        ("project", {"git_integration", "project_board_manager"}),
        ("full", {"git_integration", "project_board_manager", "release_coordinator"}),
    ],
)
def test_each_tier_adds_its_tools(tier: str, extra: set[str]) -> None:
    names = Settings.from_env({"TASKORCH_GIT_INTEGRATION": tier}).tool_names()
    assert set(names) - set(Settings.from_env({}).tool_names()) == extra


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASKORCH_TOOLSETS", "core,wizardry"),
        ("TASKORCH_GIT_INTEGRATION", "everything"),
        ("TASKORCH_LOG_LEVEL", "chatty"),
        ("TASKORCH_MUTATION_SPACING", "-1"),
        ("TASKORCH_MAX_RETRY_WAIT", "soon"),
        ("TASKORCH_STALE_AFTER_HOURS", "0"),
    ],
)
def test_a_bad_variable_is_named_with_the_fix(name: str, value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Settings.from_env({name: value})
    assert info.value.field == name
    assert info.value.fix
