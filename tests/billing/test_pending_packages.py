"""A run that fails on a schema contract does not block the next one: fixing the map is
enough, whether the records reached dlt as arrow tables (refused at extract) or as records
(refused in normalize, leaving a package behind). And the job files a killed run left are
read for their first row, in each format dlt writes."""

import csv
import gzip
from pathlib import Path

import dlt
import pytest

from sources.billing import billing_source, resources
from sources.billing.job_files import first_inserted_row, first_row_id
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


@pytest.mark.parametrize("file_format", ["parquet", "jsonl", "insert_values"])
def test_the_row_a_job_file_is_checked_by_is_one_its_copy_writes(
    sandbox: SandboxAPI, monkeypatch: pytest.MonkeyPatch, file_format: str
) -> None:
    monkeypatch.setattr(resources, "ARROW_INSTALLED", file_format == "parquet")
    pipeline = dlt.pipeline(pipeline_name="rows", destination="duckdb", dataset_name="billing")
    source = billing_source(base_url=sandbox.url, api_key=sandbox.api_key)
    pipeline.extract(source, loader_file_format=file_format)  # type: ignore[arg-type]
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    jobs = [
        job
        for job in pipeline.get_load_package_info(load_id).jobs["new_jobs"]
        if job.job_file_info.table_name.startswith("billing_records")
    ]
    assert {job.job_file_info.file_format for job in jobs} == {file_format}
    first_rows = {job.job_file_info.table_name: first_row_id(job.file_path) for job in jobs}

    pipeline.load()

    assert sorted(first_rows) == ["billing_records", "billing_records__line_items"]
    with pipeline.sql_client() as client:
        for table, row_id in first_rows.items():
            query = f"SELECT COUNT(*) FROM {table} WHERE _dlt_id = %s"
            assert client.execute_sql(query, row_id) == [(1,)], table


def test_the_first_inserted_row_is_read_past_commas_quotes_and_escapes() -> None:
    header = 'INSERT INTO {}("id","note","say ""hi""","path","gone","_dlt_id")\nVALUES\n'
    first = r"(1,E'a, b) c','it''s',E'C:\\dir \'q\'',NULL,E'Ab+/9z')," + "\n"

    assert first_inserted_row(header + first + "(2,NULL,NULL,NULL,NULL,E'next');") == {
        "id": "1",
        "note": "a, b) c",
        'say "hi"': "it's",
        "path": "C:\\dir 'q'",
        "gone": None,
        "_dlt_id": "Ab+/9z",
    }
    assert first_inserted_row(header + first[:20]) == {}  # the row goes on past the text read


def test_the_first_row_of_a_csv_job_file_is_read_past_quoted_commas(tmp_path: Path) -> None:
    path = tmp_path / "billing_records.a1b2c3.0.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as table:
        csv.writer(table).writerows(
            [["id", "note", "_dlt_id"], [1, 'a, "b"\nc', "Ab+/9z"], [2, "x", "next"]]
        )

    assert first_row_id(str(path)) == "Ab+/9z"
