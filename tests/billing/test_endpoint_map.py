"""The endpoint map: the bundled map's contents, loading from each kind of input, rejection."""

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests_mock
import yaml

from sources.billing import EndpointMapError, billing_source
from sources.billing.endpoint_map import BUNDLED_MAPS_DIR, bundled_map_names, load_endpoint_map
from sources.billing.map_reference import reference_table

from .conftest import API_KEY

BUNDLED = yaml.safe_load((BUNDLED_MAPS_DIR / "endpoints.yaml").read_text())
MAX_MESSAGE = 160  # characters, besides the file name


def test_bundled_map_describes_the_vendor_neutral_api() -> None:
    (resource,) = load_endpoint_map("endpoints").resources()

    assert resource["name"] == "billing_records"
    assert resource["endpoint"]["path"] == "/v1/billing"
    assert resource["endpoint"]["data_selector"] == "data"
    assert resource["endpoint"]["paginator"] == {
        "type": "offset",
        "limit": 100,
        "total_path": "total",
    }
    assert resource["primary_key"] == "id"
    assert resource["write_disposition"] == "merge"
    assert resource["columns"] == {
        "id": {"data_type": "bigint", "nullable": False},
        "customer_id": {"data_type": "text"},
        "amount": {"data_type": "money"},
        "date": {"data_type": "date"},
    }
    assert BUNDLED["client"]["auth"] == {"type": "api_key", "name": "api_key", "location": "query"}
    assert BUNDLED["retry"]["statuses"] == [429, 500, 502, 503, 504]
    assert BUNDLED["retry"]["max_retries"] == 3
    assert BUNDLED["retry"]["backoff_factor"] == 2


def test_map_loads_from_a_path_a_mapping_and_a_bundled_name(tmp_path: Path) -> None:
    path = tmp_path / "vendor.yaml"
    path.write_text(yaml.safe_dump(BUNDLED))

    from_path = load_endpoint_map(str(path))
    from_mapping = load_endpoint_map(BUNDLED)
    from_name = load_endpoint_map("endpoints")

    assert from_path.spec == from_mapping.spec == from_name.spec
    assert from_path.origin == str(path)
    assert from_name.origin == "endpoints.yaml"
    assert "endpoints" in bundled_map_names()


def test_resource_defaults_fill_in_and_resources_override() -> None:
    endpoint_map = copy.deepcopy(BUNDLED)
    endpoint_map["resource_defaults"]["endpoint"] = {"data_selector": "items"}
    endpoint_map["resources"].append(
        {"name": "invoices", "endpoint": {"path": "/v1/invoices"}, "write_disposition": "append"}
    )

    records, invoices = load_endpoint_map(endpoint_map).resources()

    assert records["endpoint"]["data_selector"] == "data"
    assert invoices["endpoint"]["data_selector"] == "items"
    assert invoices["primary_key"] == "id"
    assert invoices["write_disposition"] == "append"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(endpoint_map: dict[str, Any]) -> None:
        *parents, last = re.findall(r"[^.\[\]]+", path)
        node: Any = endpoint_map
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


BAD_MAPS = [
    ("unknown key", "resources[0].endpoint.pagintor", {}, "unknown key"),
    ("bad paginator", "resources[0].endpoint.paginator.type", "link", "expected one of"),
    ("bad column type", "resources[0].columns.amount.data_type", "mony", "money, date"),
    ("wrong type", "retry.max_retries", "three", "expected an integer"),
    ("bool for int", "resources[0].endpoint.paginator.limit", True, "expected an integer"),
    ("zero limit", "resources[0].endpoint.paginator.limit", 0, "expected >= 1"),
    ("secret in map", "client.auth.api_key", "abc", "unknown key"),
    ("bad disposition", "resource_defaults.write_disposition", "upsert", "replace, merge"),
    ("bad status", "retry.statuses", [200], "expected HTTP error statuses"),
    (
        "scale on text",
        "resources[0].columns.customer_id.scale",
        2,
        "only a money or decimal column",
    ),
    ("units on a date", "resources[0].columns.date.units", "minor", "only a money column"),
    (
        "currency of major units",
        "resources[0].columns.amount.currency_field",
        "currency",
        "only a money column with units: minor",
    ),
    (
        "key of another paginator",
        "resources[0].endpoint.paginator.cursor_param",
        "after",
        "paginator type offset ignores it",
    ),
    (
        "cursor paging without its token",
        "resources[0].endpoint.paginator",
        {"type": "cursor", "cursor_param": "offset"},
        "paginator type cursor needs it",
    ),
    ("name with bearer", "client.auth", {"type": "bearer", "name": "x"}, "only auth type api_key"),
]


@pytest.mark.parametrize(
    "path,value,expected", [case[1:] for case in BAD_MAPS], ids=[c[0] for c in BAD_MAPS]
)
def test_bad_map_is_rejected_in_one_short_line_before_any_request(
    tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    endpoint_map = copy.deepcopy(BUNDLED)
    _set(path, value)(endpoint_map)
    map_file = tmp_path / "vendor.yaml"
    map_file.write_text(yaml.safe_dump(endpoint_map))

    with requests_mock.Mocker() as api, pytest.raises(EndpointMapError) as error:
        billing_source(base_url="https://api.example.com", api_key=API_KEY, endpoints=str(map_file))

    message = str(error.value)
    assert message.startswith(f"{map_file}: {path}")
    assert expected in message
    assert "\n" not in message
    assert len(message) - len(str(map_file)) <= MAX_MESSAGE
    assert api.call_count == 0


def test_missing_required_key_names_it() -> None:
    endpoint_map = copy.deepcopy(BUNDLED)
    del endpoint_map["resources"][0]["endpoint"]["path"]

    with pytest.raises(
        EndpointMapError, match=r"resources\[0\]\.endpoint\.path: required key is missing"
    ):
        load_endpoint_map(endpoint_map)


def test_duplicate_resource_names_are_rejected() -> None:
    endpoint_map = copy.deepcopy(BUNDLED)
    endpoint_map["resources"].append(copy.deepcopy(endpoint_map["resources"][0]))

    with pytest.raises(
        EndpointMapError, match=r"resources\[1\]\.name: 'billing_records' is used twice"
    ):
        load_endpoint_map(endpoint_map)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    map_file = tmp_path / "broken.yaml"
    map_file.write_text("resources:\n  - name: x\n    endpoint: [unclosed\n")

    with pytest.raises(EndpointMapError) as error:
        load_endpoint_map(map_file)

    assert str(error.value).startswith(f"{map_file}: not valid YAML: line ")


def test_unknown_map_name_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(EndpointMapError, match="no bundled endpoint map named 'strpe'; bundled: "):
        load_endpoint_map("strpe")
    with pytest.raises(EndpointMapError, match="no such endpoint map file"):
        load_endpoint_map(str(tmp_path / "absent.yaml"))
    with pytest.raises(
        EndpointMapError, match="expected a bundled map name, a YAML path or a mapping"
    ):
        load_endpoint_map(42)  # type: ignore[arg-type]


def test_the_readme_reference_is_the_one_the_schema_renders() -> None:
    readme = (BUNDLED_MAPS_DIR / "README.md").read_text()
    table = reference_table()

    assert "| `resources[].endpoint.paginator.total_path` | string |" in table
    assert "| `retry.backoff_factor` | number |" in table
    assert "| `client.auth.type` | `api_key` \\| `bearer` \\| `http_basic` | yes |" in table
    assert table in readme


def test_every_key_of_the_reference_has_an_example_or_refers_to_one() -> None:
    rows = reference_table().splitlines()[2:]
    described = [row for row in rows if "| As `" not in row]

    assert len(described) > 50
    assert [row for row in described if row.endswith("|  |")] == []
