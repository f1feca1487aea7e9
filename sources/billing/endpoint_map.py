"""Loads an endpoint map (a bundled name, a YAML path or a mapping) and validates it."""

import copy
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

import yaml
from typing_extensions import Required, is_typeddict

from .errors import EndpointMapError
from .map_schema import EndpointMapSpec, EndpointSpec, PaginatorSpec, ResourceSpec

BUNDLED_MAPS_DIR = Path(__file__).parent
PROFILES_DIR = BUNDLED_MAPS_DIR / "profiles"
PAGING_KEYS = {"limit", "limit_param", "has_more_path"}
# the keys each paginator type takes, and the ones it needs
PAGINATOR_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "offset": (PAGING_KEYS | {"offset_param", "total_path"}, set()),
    "cursor": (PAGING_KEYS | {"cursor_path", "cursor_param"}, {"cursor_path", "cursor_param"}),
    "starting_after": (PAGING_KEYS | {"cursor_param", "cursor_field"}, set()),
    "next_link": (PAGING_KEYS | {"cursor_path"}, {"cursor_path"}),
    "page_number": (PAGING_KEYS | {"page_param", "first_page", "total_path"}, set()),
    "single_page": (set(), set()),
}
MAX_SHOWN_VALUE = 40
MAX_SHOWN_KEY = 30
MAX_LISTED_KEYS = 60

EndpointMapSource = str | Path | Mapping[str, Any]


@dataclass(frozen=True)
class EndpointMap:
    """A validated endpoint map and where it came from."""

    origin: str
    spec: EndpointMapSpec

    def resources(self) -> list[ResourceSpec]:
        """Returns every resource with the map's `resource_defaults` filled in."""
        defaults = self.spec.get("resource_defaults", {})
        merged: list[ResourceSpec] = []
        for resource in self.spec["resources"]:
            endpoint = {**defaults.get("endpoint", {}), **resource["endpoint"]}
            combined = {k: v for k, v in defaults.items() if k != "endpoint"}
            combined.update(resource)
            combined["endpoint"] = endpoint
            merged.append(cast(ResourceSpec, copy.deepcopy(combined)))
        return merged


def bundled_map_names() -> list[str]:
    """Names of the endpoint maps shipped with the package: the default and the vendor
    profiles."""
    return sorted(path.stem for path in _bundled_paths())


def _bundled_paths() -> list[Path]:
    return [*BUNDLED_MAPS_DIR.glob("*.yaml"), *PROFILES_DIR.glob("*.yaml")]


def load_endpoint_map(source: EndpointMapSource) -> EndpointMap:
    """Reads and validates an endpoint map; any mistake raises `EndpointMapError`."""
    if isinstance(source, Mapping):
        origin, raw = "<endpoints mapping>", copy.deepcopy(dict(source))
    elif isinstance(source, (str, Path)):
        path = _resolve_path(source)
        origin = path.name if path.parent in (BUNDLED_MAPS_DIR, PROFILES_DIR) else str(source)
        raw = _read_yaml(path, origin)
    else:
        raise EndpointMapError(
            "endpoints: expected a bundled map name, a YAML path or a mapping;"
            f" got {_shown(source)}"
        )

    _check(raw, EndpointMapSpec, "", origin)
    spec = cast(EndpointMapSpec, raw)
    endpoint_map = EndpointMap(origin, spec)
    _check_consistency(endpoint_map)
    return endpoint_map


def _resolve_path(source: str | Path) -> Path:
    path = Path(source)
    try:
        if isinstance(source, str) and path.suffix == "" and len(path.parts) == 1:
            bundled = [found for found in _bundled_paths() if found.stem == source]
            if not bundled:
                names = ", ".join(bundled_map_names())
                raise EndpointMapError(
                    f"no bundled endpoint map named {_shown(source)}; bundled: {names}"
                )
            return bundled[0]
        if not path.is_file():
            raise EndpointMapError(f"{_shown(str(source))}: no such endpoint map file")
    except OSError as error:
        raise EndpointMapError(
            f"{_shown(str(source))}: cannot be read ({error.strerror})"
        ) from None
    return path


def _read_yaml(path: Path, origin: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise EndpointMapError(f"{origin}: not valid YAML: {where}{problem}") from None


def _fail(origin: str, path: str, problem: str) -> EndpointMapError:
    return EndpointMapError(f"{origin}: {path or '(top level)'}: {problem}")


def _key(key: Any) -> str:
    """A key as it goes into a key path: as written, unless it would make the message long
    or break it over lines."""
    text = str(key)
    if len(text) <= MAX_SHOWN_KEY and text.isprintable():
        return text
    return _shown(text)[: MAX_SHOWN_KEY - 3] + "..."


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."


def _type_name(expected: Any) -> str:
    if is_typeddict(expected) or get_origin(expected) in (dict, Mapping):
        return "a mapping"
    if get_origin(expected) in (list, list):
        return "a list"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(expected, getattr(expected, "__name__", str(expected)))


def _union_name(expected: Any) -> str:
    """`a string or a list`; past two options, short nouns: `string, number or list`."""
    options = get_args(expected)
    if len(options) <= 2:
        return " or ".join(_type_name(option) for option in options)
    nouns = {str: "string", int: "integer", float: "number", bool: "true/false"}
    names = [
        nouns.get(option) or _type_name(option).removeprefix("a ")
        for option in options
        if not (option is int and float in options)  # a number may be whole
    ]
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def _matches_scalar(value: Any, expected: Any) -> bool:
    if expected is bool or isinstance(value, bool):
        return expected is bool and isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(expected, type) and isinstance(value, expected)


def _check(value: Any, expected: Any, path: str, origin: str) -> None:
    """Checks `value` against a type from `map_schema`, raising on the first mistake."""
    origin_type = get_origin(expected)
    if origin_type in (Annotated, Required):
        _check(value, get_args(expected)[0], path, origin)
    elif origin_type is Literal:
        choices = get_args(expected)
        if value not in choices:
            listed = ", ".join(str(choice) for choice in choices)
            raise _fail(origin, path, f"expected one of {listed}; got {_shown(value)}")
    elif origin_type in (Union, UnionType):
        if not any(_accepts(value, option) for option in get_args(expected)):
            raise _fail(origin, path, f"expected {_union_name(expected)}; got {_shown(value)}")
        option = next(option for option in get_args(expected) if _accepts(value, option))
        _check(value, option, path, origin)
    elif is_typeddict(expected):
        _check_fields(value, expected, path, origin)
    elif origin_type is list:
        if not isinstance(value, list):
            raise _fail(origin, path, f"expected a list; got {_shown(value)}")
        for index, item in enumerate(value):
            _check(item, get_args(expected)[0], f"{path}[{index}]", origin)
    elif origin_type is dict:
        if not isinstance(value, dict):
            raise _fail(origin, path, f"expected a mapping; got {_shown(value)}")
        for key, item in value.items():
            key_path = f"{path}.{_key(key)}" if path else _key(key)
            _check(item, get_args(expected)[1], key_path, origin)
    elif not _matches_scalar(value, expected):
        raise _fail(origin, path, f"expected {_type_name(expected)}; got {_shown(value)}")


def _accepts(value: Any, option: Any) -> bool:
    """Tells whether `value` has the outer shape of one option of a union."""
    while get_origin(option) in (Annotated, Required):
        option = get_args(option)[0]
    if get_origin(option) is list:
        return isinstance(value, list)
    if get_origin(option) is dict or is_typeddict(option):
        return isinstance(value, dict)
    return _matches_scalar(value, option)


def _check_fields(value: Any, spec: Any, path: str, origin: str) -> None:
    if not isinstance(value, dict):
        raise _fail(origin, path, f"expected a mapping; got {_shown(value)}")
    hints = spec.__annotations__
    prefix = f"{path}." if path else ""
    for key in value:
        if key not in hints:
            raise _fail(origin, f"{prefix}{_key(key)}", f"unknown key; {_known_keys(key, hints)}")
    for key in spec.__required_keys__:
        if key not in value:
            raise _fail(origin, f"{prefix}{key}", "required key is missing")
    for key, item in value.items():
        _check(item, hints[key], f"{prefix}{key}", origin)


def _known_keys(key: Any, hints: dict[str, Any]) -> str:
    """The keys a mapping takes, or those close to `key` where the list is long."""
    allowed = ", ".join(hints)
    if len(allowed) <= MAX_LISTED_KEYS:
        return f"expected one of {allowed}"
    close = difflib.get_close_matches(str(key), list(hints), n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(close)}?"
    shown = allowed[:MAX_LISTED_KEYS].rsplit(", ", 1)[0]
    return f"expected one of {shown}, ..."


def _check_consistency(endpoint_map: EndpointMap) -> None:
    """Checks what types alone cannot: unique names, sensible numbers, settings that fit."""
    spec, origin = endpoint_map.spec, endpoint_map.origin
    seen = set()
    for index, resource in enumerate(endpoint_map.resources()):
        where = f"resources[{index}]"
        if resource["name"] in seen:
            raise _fail(origin, f"{where}.name", f"{resource['name']!r} is used twice")
        seen.add(resource["name"])
        if "path" not in resource["endpoint"]:
            raise _fail(origin, f"{where}.endpoint.path", "required key is missing")
        if resource["endpoint"].get("incremental", {}).get("lookback", 0) < 0:
            raise _fail(origin, f"{where}.endpoint.incremental.lookback", "expected >= 0")
        if "soft_delete" in resource and resource.get("write_disposition") != "merge":
            raise _fail(origin, f"{where}.soft_delete", "needs write_disposition: merge")
        for name, column in resource.get("columns", {}).items():
            for key in ("precision", "scale"):
                if key in column and column["data_type"] not in ("money", "decimal"):
                    path = f"{where}.columns.{name}.{key}"
                    raise _fail(origin, path, "only a money or decimal column takes it")
            if "units" in column and column["data_type"] != "money":
                raise _fail(origin, f"{where}.columns.{name}.units", "only a money column takes it")
            if "currency_field" in column and column.get("units") != "minor":
                path = f"{where}.columns.{name}.currency_field"
                raise _fail(origin, path, "only a money column with units: minor takes it")
        for path, money in resource.get("nested_money", {}).items():
            if "currency_field" in money and money.get("units") != "minor":
                key_path = f"{where}.nested_money.{_key(path)}.currency_field"
                raise _fail(origin, key_path, "only a field with units: minor takes it")
        _check_paginator(resource["endpoint"].get("paginator"), f"{where}.endpoint", origin)
    _check_limits(spec, origin)
    client = spec.get("client", {})
    auth = client.get("auth", {})
    for key in ("name", "location"):
        if key in auth and auth["type"] != "api_key":
            raise _fail(origin, f"client.auth.{key}", "only auth type api_key takes it")
    if client.get("concurrency", 1) < 1:
        raise _fail(origin, "client.concurrency", "expected >= 1")
    if client.get("requests_per_second", 1) <= 0:
        raise _fail(origin, "client.requests_per_second", "expected > 0")
    timeout = client.get("timeout", {})
    for name, seconds in (("connect", timeout.get("connect")), ("read", timeout.get("read"))):
        if seconds is not None and seconds <= 0:
            raise _fail(origin, f"client.timeout.{name}", "expected > 0")
    retry = spec.get("retry", {})
    for status in retry.get("statuses", []):
        if not 400 <= status <= 599:
            raise _fail(origin, "retry.statuses", f"expected HTTP error statuses; got {status}")
    if retry.get("max_retries", 0) < 0:
        raise _fail(origin, "retry.max_retries", "expected >= 0")


def _check_paginator(paginator: PaginatorSpec | None, where: str, origin: str) -> None:
    """Checks that a paginator has the keys its type needs, and none it ignores."""
    if paginator is None:
        return
    kind = paginator["type"]
    allowed, needed = PAGINATOR_KEYS[kind]
    for key in paginator:
        if key != "type" and key not in allowed:
            raise _fail(origin, f"{where}.paginator.{key}", f"paginator type {kind} ignores it")
    missing = sorted(needed - set(paginator))
    if missing:
        raise _fail(origin, f"{where}.paginator.{missing[0]}", f"paginator type {kind} needs it")


def _check_limits(spec: EndpointMapSpec, origin: str) -> None:
    """Checks each page size where the map writes it, defaults included."""
    endpoints: list[tuple[str, EndpointSpec]] = [
        ("resource_defaults", spec.get("resource_defaults", {}).get("endpoint", {}))
    ]
    endpoints += [(f"resources[{i}]", r["endpoint"]) for i, r in enumerate(spec["resources"])]
    for where, endpoint in endpoints:
        limit = endpoint.get("paginator", {}).get("limit", 1)
        if limit < 1:
            raise _fail(origin, f"{where}.endpoint.paginator.limit", f"expected >= 1; got {limit}")
