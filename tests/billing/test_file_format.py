"""The file format the source asks for: the quickest its destination loads."""

import importlib.util
from typing import Any

import dlt
import pytest
from pytest_mock import MockerFixture

from sources.billing import billing_source
from sources.billing.file_format import fastest_file_format

from .conftest import API_KEY, BASE_URL


def hint_for(destination: str) -> Any:
    dlt.pipeline(pipeline_name="formats", destination=destination)
    source = billing_source(base_url=BASE_URL, api_key=API_KEY)
    return source.resources["billing_records"]._hints.get("file_format")


def test_duckdb_gets_parquet_when_pyarrow_is_installed() -> None:
    assert importlib.util.find_spec("pyarrow") is not None  # a dev dependency
    assert hint_for("duckdb") == "parquet"


def test_duckdb_gets_json_lines_without_pyarrow(mocker: MockerFixture) -> None:
    real_find_spec = importlib.util.find_spec
    mocker.patch(
        "importlib.util.find_spec",
        side_effect=lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a),
    )

    assert hint_for("duckdb") == "jsonl"


def test_filesystem_gets_parquet_files() -> None:
    assert hint_for("filesystem") == "parquet"


def test_postgres_without_adbc_keeps_its_own_format() -> None:
    assert importlib.util.find_spec("adbc_driver_postgresql") is None
    assert hint_for("postgres") is None


def test_without_an_active_pipeline_dlt_decides() -> None:
    assert fastest_file_format() is None
    source = billing_source(base_url=BASE_URL, api_key=API_KEY)
    assert "file_format" not in (source.resources["billing_records"]._hints or {})


@pytest.mark.parametrize("destination", ["duckdb", "filesystem"])
def test_the_chosen_format_is_one_the_destination_takes(destination: str) -> None:
    pipeline = dlt.pipeline(pipeline_name="formats", destination=destination)

    chosen = fastest_file_format()

    assert chosen in pipeline.destination.capabilities().supported_loader_file_formats
