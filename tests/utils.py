"""Shared helpers for the tests: destinations under test, load assertions, table counts."""

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
