"""Clears load packages that a failed run left unnormalized, so they cannot block the next run."""

from dlt.common import logger
from dlt.common.configuration.container import Container
from dlt.common.pipeline import PipelineContext
from dlt.pipeline.pipeline import Pipeline


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
    context = Container()[PipelineContext]
    if not context.is_active():
        return
    pipeline = context.pipeline()
    if not isinstance(pipeline, Pipeline):
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
