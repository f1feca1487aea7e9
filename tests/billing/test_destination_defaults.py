"""The source caps DuckDB's memory unless the user configures it."""

import dlt
import pytest

from sources.billing import billing_source
from sources.billing.sandbox import SandboxAPI


def loaded_memory_limit(api: SandboxAPI) -> str:
    pipeline = dlt.pipeline(pipeline_name="memory", destination="duckdb", dataset_name="billing")
    pipeline.run(billing_source(base_url=api.url, api_key=api.api_key))
    with pipeline.sql_client() as client:
        ((limit,),) = client.execute_sql("SELECT current_setting('memory_limit')")
    return str(limit)


def test_duckdb_memory_is_capped_when_nothing_is_configured(sandbox: SandboxAPI) -> None:
    assert loaded_memory_limit(sandbox) == "244.1 MiB"  # 256 MB


def test_a_duckdb_setting_the_user_makes_wins(
    sandbox: SandboxAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = '{"memory_limit": "1GB"}'
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", config)

    assert loaded_memory_limit(sandbox) == "953.6 MiB"  # 1 GB
