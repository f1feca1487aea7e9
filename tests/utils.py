"""Shared helpers for the tests: destinations under test, load assertions, table counts."""

from pathlib import Path
from typing import TypeVar

import dlt
from dlt.common.pipeline import LoadInfo

DEFAULT_DESTINATIONS = ["duckdb"]
E = TypeVar("E", bound=BaseException)


def all_destinations() -> list[str]:
    """Destinations the loading tests run on: `ALL_DESTINATIONS` from config, default duckdb.

    Set it in the environment as a JSON list, `ALL_DESTINATIONS='["duckdb", "postgres"]'`.
    """
    return list(dlt.config.get("ALL_DESTINATIONS", list) or DEFAULT_DESTINATIONS)


ALL_DESTINATIONS = all_destinations()


def assert_load_info(info: LoadInfo, expected_load_packages: int = 1) -> None:
    """Asserts that `expected_load_packages` packages loaded and no job failed."""
    assert len(info.loads_ids) == expected_load_packages, info
    info.raise_on_failed_jobs()
    for load_id in info.loads_ids:
        assert info.load_packages[info.loads_ids.index(load_id)].state == "loaded"


def load_table_counts(pipeline: dlt.Pipeline, *table_names: str) -> dict[str, int]:
    """Returns the row count of each table, read from the destination."""
    with pipeline.sql_client() as client:
        counts = {}
        for table in table_names:
            rows = client.execute_sql(
                f"SELECT COUNT(*) FROM {client.make_qualified_table_name(table)}"
            )
            counts[table] = rows[0][0]
    return counts


def raised(error: BaseException, error_type: type[E]) -> E:
    """Finds the `error_type` that dlt wrapped (in a ResourceExtractionError, for one)."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, error_type):
            return current
        current = current.__cause__ or current.__context__
    raise AssertionError(f"no {error_type.__name__} in the chain of {error!r}")


def stored_column_types(pipeline: dlt.Pipeline, table: str = "billing_records") -> dict[str, str]:
    """Column types as the destination itself stores them, written one way for all:
    `bigint`, `decimal(P,S)`, `date`, `text` or the destination's own name."""
    destination = pipeline.destination.destination_name
    if destination == "filesystem":
        return _parquet_column_types(pipeline, table)
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT column_name, data_type, numeric_precision, numeric_scale"
            " FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            client.dataset_name,
            table,
        )
    types = {}
    for name, data_type, precision, scale in rows or []:
        data_type = data_type.lower()
        if data_type.startswith(("decimal", "numeric")):
            data_type = f"decimal({precision},{scale})"
        types[name] = {"character varying": "text", "varchar": "text"}.get(data_type, data_type)
    return types


def _parquet_column_types(pipeline: dlt.Pipeline, table: str) -> dict[str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    bucket = Path(pipeline.destination_client().config.bucket_url.removeprefix("file://"))  # type: ignore[attr-defined]
    (first_file, *_) = sorted((bucket / pipeline.dataset_name / table).glob("*.parquet"))
    types = {}
    for field in pq.read_schema(first_file):
        if pa.types.is_decimal(field.type):
            types[field.name] = f"decimal({field.type.precision},{field.type.scale})"
        elif pa.types.is_int64(field.type):
            types[field.name] = "bigint"
        elif pa.types.is_date32(field.type):
            types[field.name] = "date"
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            types[field.name] = "text"
        else:
            types[field.name] = str(field.type)
    return types
