"""A run that fails on a schema contract does not block the next one: fixing the map is
enough, whether the records reached dlt as arrow tables (refused at extract) or as records
(refused in normalize, leaving a package behind)."""

import dlt
import pytest

from sources.billing import billing_source, resources
from sources.billing.sandbox import SandboxAPI

from ..utils import load_table_counts
from .conftest import fast_retry_map


def with_contract(columns: str) -> dict[str, object]:
    endpoint_map = fast_retry_map()
    endpoint_map["resources"][0]["schema_contract"] = {"columns": columns}
    return endpoint_map


def run(pipeline: dlt.Pipeline, api: SandboxAPI, endpoint_map: dict[str, object]) -> None:
    pipeline.run(billing_source(base_url=api.url, api_key=api.api_key, endpoints=endpoint_map))


@pytest.mark.parametrize("arrow", [True, False], ids=["arrow_tables", "records"])
def test_a_run_failing_on_a_contract_is_cleared_by_the_next_run_with_a_fixed_map(
    sandbox: SandboxAPI, dlt_warnings: list[str], monkeypatch: pytest.MonkeyPatch, arrow: bool
) -> None:
    monkeypatch.setattr(resources, "ARROW_INSTALLED", arrow)
    pipeline = dlt.pipeline(pipeline_name="contract", destination="duckdb", dataset_name="billing")
    run(pipeline, sandbox, with_contract("freeze"))
    sandbox.update(3, surprise="a field the contract does not allow", amount="9.99")

    with pytest.raises(Exception, match="Contract on `columns` with `contract_mode=freeze`"):
        run(pipeline, sandbox, with_contract("freeze"))
    stuck = 0 if arrow else 1  # records fail in normalize, after their package was extracted
    assert len(pipeline.list_extracted_load_packages()) == stuck

    run(pipeline, sandbox, with_contract("evolve"))

    assert pipeline.list_extracted_load_packages() == []
    aborted = any("aborting 1 load package(s)" in warning for warning in dlt_warnings)
    assert aborted is not arrow
    assert load_table_counts(pipeline, "billing_records") == {"billing_records": 250}
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT surprise, amount FROM billing_records WHERE id = 3")
    assert [(surprise, str(amount).rstrip("0")) for surprise, amount in rows] == [
        ("a field the contract does not allow", "9.99")
    ]


def test_nothing_is_aborted_when_nothing_is_stuck(
    sandbox: SandboxAPI, dlt_warnings: list[str]
) -> None:
    pipeline = dlt.pipeline(pipeline_name="contract", destination="duckdb", dataset_name="billing")
    run(pipeline, sandbox, fast_retry_map())
    run(pipeline, sandbox, fast_retry_map())

    assert not any("aborting" in warning for warning in dlt_warnings)
    assert load_table_counts(pipeline, "_dlt_loads") == {"_dlt_loads": 2}
