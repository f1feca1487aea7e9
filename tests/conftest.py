"""Fixtures every test gets: its own dlt data dir, config from `sources/.dlt`, no telemetry."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dlt.common.configuration.container import Container
from dlt.common.pipeline import PipelineContext

SOURCES_DIR = Path(__file__).resolve().parent.parent / "sources"

# dlt reads `.dlt/config.toml` from the project dir; the repository keeps it under sources/.
os.environ["DLT_PROJECT_DIR"] = str(SOURCES_DIR)
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    """Puts back every environment variable a test changed."""
    saved = os.environ.copy()
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def isolated_pipelines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gives each test its own dlt data dir, so pipelines and their state never leak across."""
    data_dir = tmp_path / "dlt_data"
    monkeypatch.setenv("DLT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "files").as_uri())
    monkeypatch.chdir(tmp_path)
    return data_dir


@pytest.fixture(autouse=True)
def no_active_pipeline() -> Iterator[None]:
    """Deactivates the pipeline a test left active, so its state cannot leak into the next."""
    yield
    context = Container()[PipelineContext]
    if context.is_active():
        context.deactivate()
