"""Start-up cost of the ``taskorch`` command: wall time of each command against the interpreter.

    .venv/bin/python bench/bench_cli.py [--runs N]

Seeds a throwaway project (a parent with 20 subtasks in a chain) in a temporary SQLite
database, then runs each command N times in a fresh process and prints a table: the median wall
time in milliseconds, the time over the floor (``python -c pass`` in the same run, so a busy
machine moves both) and the ratio to the floor. The aim for a read command (``get-status``,
``show``, ``next``) is under 400 ms over the floor. A command that fails prints its exit code
instead of a time. The fastest run and the CPU time (user + system, median) over the floor's are
shown too: on a busy machine they move less than the median wall time.

Nothing here is a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

#: The commands measured, as argument lists after ``taskorch``.
COMMANDS: list[tuple[str, list[str]]] = [
    ("--help", ["--help"]),
    ("--version", ["--version"]),
    ("get-status", ["get-status"]),
    ("show 1", ["show", "1"]),
    ("next", ["next"]),
    ("tree", ["tree"]),
]


def taskorch_command() -> list[str]:
    """The console script next to this interpreter, else the package run through ``-c``."""
    script = Path(sys.executable).with_name("taskorch")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from taskorch.cli import main; main()"]


def seed(project: Path, env: dict[str, str]) -> None:
    """A parent task with 20 subtasks, each depending on the one before."""
    (project / ".git").mkdir(parents=True)
    plan = project / "plan.json"
    subtasks = [
        {"key": f"s{i}", "title": f"Step {i} of the feature", **({"depends_on_keys": [f"s{i - 1}"]} if i else {})}
        for i in range(20)
    ]
    plan.write_text(json.dumps(subtasks), encoding="utf-8")
    subprocess.run(
        [*taskorch_command(), "plan-task", "A feature in twenty steps", "--subtasks-json", str(plan), "--json"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )


def wall(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds of one run of ``argv``, the CPU seconds (user + system) the process used, and
    its exit code (output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, check=False, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, done.returncode


@dataclass
class Runs:
    """Seconds of each run: wall time and CPU time; the last exit code."""

    walls: list[float]
    cpus: list[float]
    code: int

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def fastest(self) -> float:
        return min(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)


def median_of(argv: list[str], runs: int, cwd: Path, env: dict[str, str]) -> Runs:
    """``runs`` runs (after one warm-up run)."""
    wall(argv, cwd, env)
    out = Runs([], [], 0)
    for _ in range(runs):
        seconds, cpu, out.code = wall(argv, cwd, env)
        out.walls.append(seconds)
        out.cpus.append(cpu)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=9, help="runs per command (median shown), default 9")
    args = parser.parse_args()
    console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="taskorch-bench-cli-") as tmp:
        workdir = Path(tmp)
        project = workdir / "project"
        env = {**os.environ, "TASKORCH_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "COLUMNS": "100"}
        seed(project, env)
        floor = median_of([sys.executable, "-c", "pass"], args.runs, project, env)
        table = Table(title=f"taskorch start-up, median of {args.runs} runs", title_justify="left")
        columns = ("command", "wall ms", "over floor ms", "x floor", "fastest over floor ms", "CPU over floor ms")
        for column in columns:
            table.add_column(column, justify="left" if column == "command" else "right", no_wrap=True)
        table.add_row("floor: python -c pass", f"{floor.median * 1000:.0f}", "0", "1.0", "0", "0")
        for label, argv in COMMANDS:
            runs = median_of([*taskorch_command(), *argv], args.runs, project, env)
            if runs.code != 0:
                table.add_row(f"taskorch {label}", f"exit {runs.code}", "", "", "", "")
                continue
            table.add_row(
                f"taskorch {label}",
                f"{runs.median * 1000:.0f}",
                f"{(runs.median - floor.median) * 1000:.0f}",
                f"{runs.median / floor.median:.1f}",
                f"{(runs.fastest - floor.fastest) * 1000:.0f}",
                f"{(runs.cpu - floor.cpu) * 1000:.0f}",
            )
        console.print(table)
        console.print(
            "fastest: the fastest run minus the fastest floor run. CPU: user + system time of the process "
            "(median), which moves less than wall time when other processes compete for the CPUs."
        )
        console.print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
