"""Puts right the load packages a failed or killed run left, before the next run loads them."""

import os
from contextlib import AbstractContextManager, nullcontext

from dlt.common import logger
from dlt.common.configuration.container import Container
from dlt.common.destination.client import WithStagingDataset
from dlt.common.destination.exceptions import DestinationException
from dlt.common.pipeline import PipelineContext
from dlt.common.schema.typing import C_DLT_ID
from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.job_client_impl import SqlJobClientBase
from dlt.pipeline.pipeline import Pipeline

from .job_files import first_row_id


def _active_pipeline() -> Pipeline | None:
    context = Container()[PipelineContext]
    if not context.is_active():
        return None
    pipeline = context.pipeline()
    return pipeline if isinstance(pipeline, Pipeline) else None


def abort_unnormalized_packages(schema_name: str) -> None:
    """Aborts this source's extracted packages that were never normalized, in the active
    pipeline, and has dlt restore the state they changed.

    A run that fails in normalize (a record breaking a schema contract, say) leaves its
    package extracted, and dlt tries it again before every later run, which fails the
    same way until someone aborts it by hand. Nothing is lost by aborting: dlt puts the
    incremental state back to where the oldest pending package started, so the records are
    read from the API again. Every pending package goes, normalized ones too, since dlt
    rewinds the state only as a whole; when nothing is stuck, nothing is touched.
    """
    pipeline = _active_pipeline()
    if pipeline is None:
        return
    stuck = [
        load_id
        for load_id in pipeline.list_extracted_load_packages()
        if pipeline.get_load_package_info(load_id).schema_name == schema_name
    ]
    if not stuck:
        return
    logger.warning(
        f"{schema_name}: aborting {len(stuck)} load package(s) an earlier run left"
        f" unnormalized ({', '.join(sorted(stuck))}); their records will be read again"
    )
    pipeline.abort_packages()


def settle_committed_copies(schema_name: str) -> None:
    """Marks the copy jobs a killed run committed to the destination as done, in the active
    pipeline, so the next run does not copy their rows a second time.

    dlt records that a destination committed a job a moment after the commit. A run killed
    in between leaves the job started, and the next run copies the file again: its rows
    then stand twice in the staging table, with one `_dlt_id` per pair, and the merge
    inserts both. The source looks for the file's first row in its table and, where it is
    there, records the commit as dlt would have (a pending transition), so dlt completes
    the job and its merge without running it. Parquet, JSON lines, CSV and insert-values
    files are checked; other jobs are left to dlt.
    """
    pipeline = _active_pipeline()
    if pipeline is None or pipeline.destination is None:
        return
    packages = pipeline._get_load_storage().normalized_packages
    interrupted = [
        (load_id, job)
        for load_id in pipeline.list_normalized_load_packages()
        if pipeline.get_load_package_info(load_id).schema_name == schema_name
        for job in packages.list_started_jobs(load_id)
        if packages.load_pending_transition(load_id, os.path.basename(job)) is None
    ]
    if not interrupted:
        return
    with pipeline.destination_client(schema_name) as client:
        if not isinstance(client, SqlJobClientBase):
            return
        for load_id, job in interrupted:
            row_id = first_row_id(packages.storage.make_full_path(job))
            try:
                committed = row_id is not None and _has_row(client, job, row_id)
            except DestinationException as error:
                logger.warning(
                    f"{schema_name}: left {job} to dlt, its rows could not be checked: {error}"
                )
                continue
            if committed:
                file_name = os.path.basename(job)
                packages.save_pending_transition(load_id, file_name, "completed")
                logger.warning(
                    f"{schema_name}: {file_name} of load {load_id} reached the destination"
                    " before an earlier run stopped; it is not loaded again"
                )


def _has_row(client: SqlJobClientBase, job: str, row_id: str) -> bool:
    """Whether the table `job` copies into, staging or not, holds the row `row_id`.

    `_dlt_id` alone tells: a staging table holds one package at a time, and elsewhere a row
    key is random or derived from a random one.
    """
    table_name = ParsedLoadJobFileName.parse(job).table_name
    dataset: AbstractContextManager[object] = nullcontext()
    if isinstance(client, WithStagingDataset) and client.should_load_data_to_staging_dataset(
        table_name
    ):
        dataset = client.with_staging_dataset()
    with dataset:
        sql = client.sql_client
        query = (
            f"SELECT 1 FROM {sql.make_qualified_table_name(table_name)}"
            f" WHERE {sql.escape_column_name(C_DLT_ID)} = %s LIMIT 1"
        )
        try:
            return bool(sql.execute_sql(query, row_id))
        except DatabaseUndefinedRelation:
            return False  # killed before the table was made
