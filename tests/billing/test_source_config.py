"""Where the source finds its settings: config, secrets, and the `endpoints` argument."""

from pathlib import Path

import pytest
import requests_mock as rm
import yaml

from sources.billing import billing_source
from sources.billing.endpoint_map import BUNDLED_MAPS_DIR

from .conftest import API_KEY, make_record

CONFIGURED_BASE_URL = "https://api.example.com"  # sources/.dlt/config.toml


def requested_key(source_factory: object) -> str:
    with rm.Mocker() as api:
        api.get(f"{CONFIGURED_BASE_URL}/v1/billing", json={"data": [make_record(1)], "total": 1})
        source = source_factory()  # type: ignore[operator]
        assert [record["id"] for record in source.resources["billing_records"]] == [1]
    return str(api.last_request.qs["api_key"][0])


def test_base_url_from_config_and_key_from_the_source_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__BILLING__API_KEY", API_KEY)

    assert requested_key(billing_source) == API_KEY.lower()


def test_key_from_a_top_level_api_key_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "top-level-key-123")

    assert requested_key(billing_source) == "top-level-key-123"


def test_endpoint_map_path_from_config_or_as_a_path_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint_map = yaml.safe_load((BUNDLED_MAPS_DIR / "endpoints.yaml").read_text())
    endpoint_map["resources"][0]["name"] = "charges"
    map_file = tmp_path / "vendor.yaml"
    map_file.write_text(yaml.safe_dump(endpoint_map))
    monkeypatch.setenv("SOURCES__BILLING__API_KEY", API_KEY)

    monkeypatch.setenv("SOURCES__BILLING__ENDPOINTS", str(map_file))
    assert list(billing_source().resources) == ["charges"]
    monkeypatch.delenv("SOURCES__BILLING__ENDPOINTS")
    assert list(billing_source(endpoints=map_file).resources) == ["charges"]


def test_a_missing_key_is_reported_by_dlt_before_any_request() -> None:
    with rm.Mocker() as api, pytest.raises(Exception, match="api_key"):
        billing_source()

    assert api.call_count == 0
