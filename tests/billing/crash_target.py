"""Runs one billing load into a DuckDB file, in its own process, so a test can SIGKILL it.

    python crash_target.py BASE_URL API_KEY PIPELINE_NAME PIPELINES_DIR DUCKDB_PATH

Exits 0 when the load completed; a failure is an exception and a non-zero exit. With
`CRASH_TARGET_KILL=before:TABLE` (or `after:TABLE`) in the environment, the process kills
itself with SIGKILL just before (or just after) DuckDB copies a file of TABLE, or of any
table for `*`, into the destination, or runs the merge for `merge`: a point too
short-lived to hit from outside. With `CRASH_TARGET_DLT_ONLY=1`, the process makes no
source and has dlt load what is pending; with `CRASH_TARGET_POSTGRES_DATASET=name` it loads
into that dataset of the PostgreSQL database its config names, not into the DuckDB file.
"""

import os
import signal
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
KILL_VARIABLE = "CRASH_TARGET_KILL"
DLT_ONLY_VARIABLE = "CRASH_TARGET_DLT_ONLY"
POSTGRES_VARIABLE = "CRASH_TARGET_POSTGRES_DATASET"


def kill_around_job(when: str, table: str) -> None:
    """Has DuckDB's copy job of `table` (`*`: any; `merge`: the merge's SQL job instead)
    SIGKILL this process `before` or `after` it runs."""
    from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
    from dlt.destinations.impl.postgres.postgres import PostgresCsvCopyJob
    from dlt.destinations.insert_job_client import InsertValuesLoadJob
    from dlt.destinations.job_client_impl import SqlLoadJob

    copies = [DuckDbCopyJob, PostgresCsvCopyJob, InsertValuesLoadJob]
    job_classes: list[Any] = [SqlLoadJob] if table == "merge" else copies
    for job_class in job_classes:
        job_class.run = _dying(job_class.run, when, table)


def _dying(run: Any, when: str, table: str) -> Any:
    def run_and_die(job: Any) -> None:
        mine = table in ("*", "merge", job.load_table_name)
        if mine and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        run(job)
        if mine and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    return run_and_die


def main(argv: list[str]) -> int:
    base_url, api_key, pipeline_name, pipelines_dir, duckdb_path = argv
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))

    import dlt

    from sources.billing import billing_source

    if os.environ.get(KILL_VARIABLE):
        when, table = os.environ[KILL_VARIABLE].split(":")
        kill_around_job(when, table)

    postgres_dataset = os.environ.get(POSTGRES_VARIABLE)
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        pipelines_dir=pipelines_dir,
        destination="postgres" if postgres_dataset else dlt.destinations.duckdb(duckdb_path),
        dataset_name=postgres_dataset or "billing",
    )
    if os.environ.get(DLT_ONLY_VARIABLE):
        pipeline.load().raise_on_failed_jobs()
        return 0
    # made while the pipeline is active, the source puts right the packages a killed run left
    info = pipeline.run(billing_source(base_url=base_url, api_key=api_key))
    info.raise_on_failed_jobs()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
