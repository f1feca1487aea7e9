"""The repository's own wiring: CI runs the README's test command, workflows are valid."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def quick_start_lines() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    demo, tests = quick_start_lines()
    ci_commands = [
        line
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line.startswith("python3")
    ]

    assert "--sandbox" in demo
    assert ci_commands == [tests]


def test_github_workflows_match_the_workflow_schema() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert checker is not None, "check-jsonschema is part of the dev dependencies"
    workflows = sorted(str(path) for path in (REPO / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) >= 2

    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", *workflows],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
