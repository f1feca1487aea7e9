"""`dlt init billing` run against this repository: the project it makes, a load, the listing.

Every test drives the real `dlt` command line in a subprocess, with this repository's root as
`--location`, the way a user of the verified source would.
"""

import ast
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomlkit

from sources.billing.sandbox import running_sandbox

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGE = REPO_ROOT / "sources" / "billing"
SANDBOX_SIZE = 120
TIMEOUT_SECONDS = 180
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Inherited variables that would point the subprocesses at the repository instead of the
# generated project: tests/conftest.py sets DLT_PROJECT_DIR to sources/, so `dlt init` would
# write into the repository and the pipeline would read sources/.dlt.
DROPPED_VARIABLES = {"DLT_PROJECT_DIR", "DLT_DATA_DIR", "PYTHONPATH"}
DROPPED_PREFIXES = ("SOURCES__", "DESTINATION__")


def dlt_command() -> list[str]:
    """The `dlt` console script of this interpreter's environment.

    `python -m dlt` (dlt 1.31) drops the exit code of the command and exits 0 even when the
    command failed, so the console script is preferred; every test checks the output too.
    """
    executable = shutil.which("dlt", path=str(Path(sys.executable).parent))
    return [executable] if executable else [sys.executable, "-m", "dlt"]


def subprocess_env(data_dir: Path, **variables: str) -> dict[str, str]:
    """This process's environment, minus what points at the repository, plus `variables`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in DROPPED_VARIABLES and not name.startswith(DROPPED_PREFIXES)
    }
    env.update(
        RUNTIME__DLTHUB_TELEMETRY="false",
        DLT_DATA_DIR=str(data_dir),
        PYTHONIOENCODING="utf-8",
        **variables,
    )
    return env


def run(args: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    result.stdout = ANSI_ESCAPE.sub("", result.stdout)
    result.stderr = ANSI_ESCAPE.sub("", result.stderr)
    return result


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{' '.join(map(str, result.args))} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


@dataclass
class InitializedProject:
    path: Path
    data_dir: Path
    init: subprocess.CompletedProcess[str] = field(repr=False)

    def assert_initialized(self) -> None:
        """Fails with dlt's own output when `dlt init` did not create the project."""
        assert self.init.returncode == 0, describe(self.init)
        assert (self.path / "billing_pipeline.py").is_file(), describe(self.init)


@pytest.fixture(scope="module")
def initialized_project(tmp_path_factory: pytest.TempPathFactory) -> InitializedProject:
    """`dlt init billing duckdb --location <repo root>` run once in an empty folder."""
    root = tmp_path_factory.mktemp("dlt_init")
    project = root / "project"
    project.mkdir()
    data_dir = root / "dlt_data"
    args = [
        *dlt_command(),
        "--non-interactive",
        "init",
        "billing",
        "duckdb",
        "--location",
        str(REPO_ROOT),
    ]
    init = run(args, cwd=project, env=subprocess_env(data_dir))
    return InitializedProject(project, data_dir, init)


def read_toml(path: Path) -> dict[str, object]:
    assert path.is_file(), f"{path} was not created"
    return tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()


def billing_section(toml: dict[str, object]) -> dict[str, object]:
    sources = toml.get("sources")
    assert isinstance(sources, dict), f"no [sources] section in {toml}"
    section = sources.get("billing")
    assert isinstance(section, dict), f"no [sources.billing] section in {toml}"
    return section


def test_dlt_init_creates_billing_project(initialized_project: InitializedProject) -> None:
    initialized_project.assert_initialized()
    project = initialized_project.path

    # the demo script and the whole source package, data files included
    assert (project / "billing_pipeline.py").is_file()
    package = project / "billing"
    for required in ("__init__.py", "endpoints.yaml", "sandbox.py"):
        assert (package / required).is_file(), f"billing/{required} was not copied"
    expected_files = {
        path.name for pattern in ("*.py", "*.yaml") for path in SOURCE_PACKAGE.glob(pattern)
    }
    copied_files = {path.name for path in package.iterdir() if path.is_file()}
    assert expected_files <= copied_files, f"not copied: {sorted(expected_files - copied_files)}"
    profiles = {path.name for path in (SOURCE_PACKAGE / "profiles").glob("*.yaml")}
    assert profiles and profiles == {path.name for path in (package / "profiles").glob("*.yaml")}
    script = (project / "billing_pipeline.py").read_text(encoding="utf-8")
    ast.parse(script)
    assert "from billing import billing_source" in script

    # the key is a secret and base_url a config value, each in its own file
    secrets_toml = read_toml(project / ".dlt" / "secrets.toml")
    config_toml = read_toml(project / ".dlt" / "config.toml")
    secret_values = billing_section(secrets_toml)
    config_values = billing_section(config_toml)
    assert isinstance(secret_values.get("api_key"), str), secret_values
    assert isinstance(config_values.get("base_url"), str), config_values
    assert "api_key" not in config_values
    assert "base_url" not in secret_values

    # requirements.txt at the project root, with dlt and the destination's extra
    requirements = (project / "requirements.txt").read_text(encoding="utf-8").splitlines()
    dlt_lines = [line for line in requirements if re.match(r"\s*dlt\b(?![-_.\w])", line)]
    assert dlt_lines, f"dlt is not in requirements.txt: {requirements}"
    assert any("duckdb" in line for line in dlt_lines), dlt_lines


def test_generated_project_loads_from_sandbox(initialized_project: InitializedProject) -> None:
    initialized_project.assert_initialized()
    api_key = f"bk_test_{secrets.token_hex(12)}"

    with running_sandbox(size=SANDBOX_SIZE, seed=11, api_key=api_key) as api:
        env = subprocess_env(
            initialized_project.data_dir,
            SOURCES__BILLING__BASE_URL=api.url,
            SOURCES__BILLING__API_KEY=api_key,
        )
        result = run([sys.executable, "billing_pipeline.py"], cwd=initialized_project.path, env=env)
        requests = api.requests
        records = len(api.records)

    assert result.returncode == 0, describe(result)
    assert api_key not in result.stdout, "the API key is printed to stdout"
    assert api_key not in result.stderr, "the API key is printed to stderr"

    # every request reached the sandbox with the configured key
    assert requests, "the pipeline sent no request to the sandbox"
    assert all(request.status == 200 for request in requests), requests

    counts = re.findall(r"^\s*billing_records\s+([\d,]+) rows\s*$", result.stdout, re.MULTILINE)
    assert counts, f"no row count for billing_records in the output\n{result.stdout}"
    assert [int(count.replace(",", "")) for count in counts] == [records]
    assert records == SANDBOX_SIZE


def module_summary(init_py: Path) -> str:
    docstring = ast.get_docstring(ast.parse(init_py.read_text(encoding="utf-8")))
    assert docstring, f"{init_py} has no module docstring"
    return docstring.strip().splitlines()[0]


def test_list_sources_shows_billing(tmp_path: Path) -> None:
    args = [*dlt_command(), "--non-interactive", "init", "--list-sources"]
    result = run([*args, "--location", str(REPO_ROOT)], cwd=tmp_path, env=subprocess_env(tmp_path))

    assert result.returncode == 0, describe(result)
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "Available verified sources:" in lines, describe(result)
    verified = lines[lines.index("Available verified sources:") + 1 :]
    expected = f"billing: {module_summary(SOURCE_PACKAGE / '__init__.py')}"
    assert expected in verified, describe(result)
