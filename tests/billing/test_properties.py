"""Property-based tests: the endpoint-map validator, exact money and calendar dates.

Every property runs a fixed number of derandomized examples without an example database, so
the file gives the same result on every run and machine.
"""

import copy
import json
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st
from typing_extensions import Required, is_typeddict

from sources.billing.columns import calendar_date, exact_money
from sources.billing.endpoint_map import BUNDLED_MAPS_DIR, bundled_map_names, load_endpoint_map
from sources.billing.errors import EndpointMapError
from sources.billing.map_schema import EndpointMapSpec

BUNDLED = yaml.safe_load((BUNDLED_MAPS_DIR / "endpoints.yaml").read_text(encoding="utf-8"))
EVERY_BUNDLED_MAP = [dict(load_endpoint_map(name).spec) for name in bundled_map_names()]
MAPPING_ORIGIN = "<endpoints mapping>: "
NON_MAPPING_PREFIX = "endpoints:"
MAX_MESSAGE = 200
MAX_INTEGER_DIGITS = 29  # precision 38 - scale 9
MAX_PLACES = 9
# the largest amount a default money column holds, written out: arithmetic under the default
# 28-digit context would round it up to 1E+29
LARGEST_AMOUNT = Decimal("9" * MAX_INTEGER_DIGITS + "." + "9" * MAX_PLACES)
# st.decimals works in that context too, so its bounds keep to 28 digits; `amounts` goes further
MIDDLING_AMOUNT = Decimal("9" * (28 - MAX_PLACES) + "." + "9" * MAX_PLACES)


def checked(examples: int) -> settings:
    """Deterministic settings: a fixed example count, no deadline, no example database."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )


# --- the schema, walked alongside the bundled map -------------------------------------------


def _unwrap(expected: Any) -> Any:
    while get_origin(expected) in (Annotated, Required):
        expected = get_args(expected)[0]
    return expected


@dataclass(frozen=True)
class Node:
    """One value in a map: where it sits (keys and the validator's spelling) and its type."""

    keys: tuple[str | int, ...]
    expected: Any

    @property
    def path(self) -> str:
        text = ""
        for key in self.keys:
            if isinstance(key, int):
                text += f"[{key}]"
            else:
                text += f".{key}" if text else key
        return text

    def child(self, key: str | int) -> str:
        return Node((*self.keys, key), None).path


def _nodes(value: Any, expected: Any, keys: tuple[str | int, ...] = ()) -> Iterator[Node]:
    expected = _unwrap(expected)
    yield Node(keys, expected)
    if is_typeddict(expected):
        hints = expected.__annotations__
        for key, item in value.items():
            yield from _nodes(item, hints[key], (*keys, key))
    elif get_origin(expected) is list:
        for index, item in enumerate(value):
            yield from _nodes(item, get_args(expected)[0], (*keys, index))
    elif get_origin(expected) is dict:
        for key, item in value.items():
            yield from _nodes(item, get_args(expected)[1], (*keys, key))


BUNDLED_NODES = list(_nodes(BUNDLED, EndpointMapSpec))
TYPED_MAPPINGS = [node for node in BUNDLED_NODES if is_typeddict(node.expected)]
REQUIRED_KEYS = [
    (node, key) for node in TYPED_MAPPINGS for key in sorted(node.expected.__required_keys__)
]
# optional by type (resource_defaults may give it) but required once defaults are merged
ENDPOINT_PATH = (Node(("resources", 0, "endpoint"), None), "path")
SCHEMA_KEYS = sorted(
    {key for node in TYPED_MAPPINGS for key in node.expected.__annotations__}
    | {key for node in BUNDLED_NODES for key in node.keys if isinstance(key, str)}
)


def _at(document: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        document = document[key]
    return document


def _set(document: Any, keys: tuple[str | int, ...], value: Any) -> None:
    _at(document, keys[:-1])[keys[-1]] = value


def _wrong_values(expected: Any) -> list[Any]:
    """Values the validator must reject for a key of this type, whatever the rest holds."""
    if is_typeddict(expected) or get_origin(expected) is dict:
        return ["not a mapping", 7, ["a", "list"]]
    if get_origin(expected) is list:
        return ["not a list", 7, {"a": "mapping"}]
    if get_origin(expected) is Literal:
        return ["no-such-choice", 7, None]
    if get_origin(expected) in (Union, UnionType):
        return [None, 1.5, {"a": "mapping"}]
    return {
        int: ["twelve", 1.5, True, None],
        float: ["ten", True, None, [1]],
        str: [12, True, None, ["x"]],
        bool: ["yes", 0, None],
    }[expected]


# --- yaml-like values and mutations of the bundled map --------------------------------------

# keys the schema knows reach deeper checks; long keys test the message's length limit
map_keys = st.sampled_from(SCHEMA_KEYS) | st.text() | st.text(min_size=30, max_size=150)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
yaml_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(map_keys, children, max_size=4)
    ),
    max_leaves=10,
)
whole_maps = st.dictionaries(map_keys, yaml_values, max_size=5)
non_mappings = st.none() | st.booleans() | st.integers() | st.floats() | st.lists(yaml_values)


def _containers(document: Any) -> Iterator[Any]:
    yield document
    children = document.values() if isinstance(document, dict) else document
    for child in children:
        if isinstance(child, (dict, list)):
            yield from _containers(child)


@st.composite
def mutated_maps(draw: st.DrawFn) -> dict[str, Any]:
    """A deep copy of a bundled map (the default or a vendor profile) with one to three values
    replaced, deleted or inserted."""
    document = copy.deepcopy(draw(st.sampled_from(EVERY_BUNDLED_MAP)))
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(list(_containers(document))))
        operations = ["replace", "delete", "insert"] if target else ["insert"]
        operation = draw(st.sampled_from(operations))
        if isinstance(target, dict):
            if operation == "insert":
                target[draw(map_keys)] = draw(yaml_values)
            else:
                key = draw(st.sampled_from(list(target)))
                if operation == "delete":
                    del target[key]
                else:
                    target[key] = draw(yaml_values)
        elif operation == "insert":
            target.insert(draw(st.integers(0, len(target))), draw(yaml_values))
        else:
            index = draw(st.integers(0, len(target) - 1))
            if operation == "delete":
                del target[index]
            else:
                target[index] = draw(yaml_values)
    return document


def _assert_rejects_cleanly(source: Any, prefix: str) -> None:
    """Loads `source`: it either validates or raises a short one-line EndpointMapError."""
    try:
        load_endpoint_map(source)
    except EndpointMapError as error:
        message = str(error)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(prefix), message
        assert len(message) <= MAX_MESSAGE, message


# --- 1. the validator never crashes --------------------------------------------------------


def test_the_bundled_map_is_valid() -> None:
    # the mutation properties below start from a valid map, so a rejection is the mutation's
    assert load_endpoint_map(copy.deepcopy(BUNDLED)).spec == BUNDLED


@checked(100)
@given(whole_maps)
def test_validator_never_crashes_on_random_mappings(document: dict[str, Any]) -> None:
    _assert_rejects_cleanly(document, MAPPING_ORIGIN)


@checked(60)
@given(non_mappings)
def test_validator_rejects_non_mappings_with_a_one_line_message(source: Any) -> None:
    with pytest.raises(EndpointMapError) as raised:
        load_endpoint_map(source)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(NON_MAPPING_PREFIX)
    assert len(message) <= MAX_MESSAGE


@checked(600)  # about 85 mutations of each of the seven maps
@given(mutated_maps())
def test_validator_never_crashes_on_mutations_of_the_bundled_maps(document: dict[str, Any]) -> None:
    _assert_rejects_cleanly(document, MAPPING_ORIGIN)


name_characters = st.characters(codec="utf-8", exclude_characters="/.\x00")


@checked(50)
@given(
    st.integers(1, 300).flatmap(
        lambda size: st.text(alphabet=name_characters, min_size=size, max_size=size)
    )
)
def test_an_unknown_map_name_is_an_endpoint_map_error(name: str) -> None:
    # a one-part string without a suffix names a bundled map; an unknown name is refused with
    # EndpointMapError whatever its length, not with what the file system says about it
    assume(name not in bundled_map_names())
    with pytest.raises(EndpointMapError):
        load_endpoint_map(name)


# --- 2. mutations name the key path ---------------------------------------------------------


def _rejection(document: dict[str, Any]) -> str:
    with pytest.raises(EndpointMapError) as raised:
        load_endpoint_map(document)
    return str(raised.value)


@checked(200)
@given(st.data())
def test_a_wrong_type_is_reported_at_its_key_path(data: st.DataObject) -> None:
    node = data.draw(st.sampled_from([node for node in BUNDLED_NODES if node.keys]))
    wrong = data.draw(st.sampled_from(_wrong_values(node.expected)))
    document = copy.deepcopy(BUNDLED)
    _set(document, node.keys, wrong)

    assert _rejection(document).startswith(f"{MAPPING_ORIGIN}{node.path}: ")


@checked(150)
@given(
    st.sampled_from(TYPED_MAPPINGS),
    st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=20),
)
def test_an_unknown_key_is_reported_at_its_key_path(node: Node, key: str) -> None:
    if key in node.expected.__annotations__:
        key = f"{key}_unknown"
    document = copy.deepcopy(BUNDLED)
    _at(document, node.keys)[key] = "anything"

    message = _rejection(document)
    assert message.startswith(f"{MAPPING_ORIGIN}{node.child(key)}: unknown key"), message


@checked(60)
@given(st.sampled_from([*REQUIRED_KEYS, ENDPOINT_PATH]))
def test_a_missing_required_key_is_reported_at_its_key_path(required: tuple[Node, str]) -> None:
    node, key = required
    document = copy.deepcopy(BUNDLED)
    _at(document, node.keys).pop(key, None)

    message = _rejection(document)
    assert message.startswith(f"{MAPPING_ORIGIN}{node.child(key)}: required key is missing")


RANGE_CHECKS: list[tuple[tuple[str | int, ...], st.SearchStrategy[Any], str]] = [
    (("resources", 0, "endpoint", "paginator", "limit"), st.integers(max_value=0), ""),
    (("resources", 0, "endpoint", "incremental", "lookback"), st.floats(max_value=-1e-9), ""),
    (("retry", "max_retries"), st.integers(max_value=-1), ""),
    (("client", "concurrency"), st.integers(max_value=0), ""),
    (("client", "requests_per_second"), st.floats(max_value=0), ""),
    # the validator names the list of statuses, not the entry
    (("retry", "statuses", 1), st.integers(max_value=399) | st.integers(min_value=600), "[1]"),
    (("resources", 0, "columns", "id", "precision"), st.integers(1, 38), ""),
    (("resources", 0, "columns", "date", "scale"), st.integers(0, 9), ""),
]


@checked(200)
@given(st.data())
def test_a_value_out_of_range_is_reported_at_its_key_path(data: st.DataObject) -> None:
    where, values, index_suffix = data.draw(st.sampled_from(RANGE_CHECKS))
    document = copy.deepcopy(BUNDLED)
    _set(document, where, data.draw(values))

    path = Node(where, None).path.removesuffix(index_suffix)
    assert _rejection(document).startswith(f"{MAPPING_ORIGIN}{path}: ")


@checked(30)
@given(st.text(min_size=1, max_size=30))
def test_a_duplicate_resource_name_is_reported_at_the_second_name(name: str) -> None:
    document = copy.deepcopy(BUNDLED)
    document["resources"][0]["name"] = name
    document["resources"].append(copy.deepcopy(document["resources"][0]))

    assert _rejection(document).startswith(f"{MAPPING_ORIGIN}resources[1].name: ")


@checked(30)
@given(st.integers(max_value=0))
def test_a_bad_default_limit_is_reported_where_the_map_sets_it(limit: int) -> None:
    # the resource takes its paginator from resource_defaults, so the mistake is there, and
    # the message should point there rather than at a key the resource does not have
    document = copy.deepcopy(BUNDLED)
    paginator = document["resources"][0]["endpoint"].pop("paginator")
    document["resource_defaults"]["endpoint"] = {"paginator": {**paginator, "limit": limit}}

    path = "resource_defaults.endpoint.paginator.limit"
    assert _rejection(document).startswith(f"{MAPPING_ORIGIN}{path}: ")


# --- 3. money round-trips exactly -----------------------------------------------------------


@st.composite
def amounts(draw: st.DrawFn, min_places: int = 0, max_places: int = MAX_PLACES) -> Decimal:
    """A finite Decimal below 10**29 in size, written with min_places to max_places places.

    Built from a sign, a coefficient and an exponent, so plain (`12.50`) and exponent forms
    (`1.2E+5`, `5E-9`) both occur, with trailing zeros kept.
    """
    negative = draw(st.booleans())
    exponent = draw(st.integers(-max_places, -min_places if min_places else MAX_INTEGER_DIGITS - 1))
    # the value's integer part has at most 29 digits: coefficient * 10**exponent < 10**29
    coefficient = draw(st.integers(0, 10 ** (MAX_INTEGER_DIGITS - exponent) - 1))
    digits = tuple(int(digit) for digit in str(coefficient))
    return Decimal((int(negative), digits, exponent))


decimals_by_places = st.integers(0, MAX_PLACES).flatmap(
    lambda places: st.decimals(
        min_value=-MIDDLING_AMOUNT,
        max_value=MIDDLING_AMOUNT,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)


@checked(300)
@given(amounts() | decimals_by_places)
@example(LARGEST_AMOUNT)
@example(LARGEST_AMOUNT.copy_negate())
def test_money_round_trips_exactly_from_a_string_and_a_decimal(amount: Decimal) -> None:
    assert exact_money(str(amount)) == amount
    assert exact_money(f" {amount} ") == amount
    assert exact_money(amount) == amount
    assert exact_money(format(amount, "f")) == amount


@checked(300)
@given(amounts() | decimals_by_places)
@example(LARGEST_AMOUNT)
@example(LARGEST_AMOUNT.copy_negate())
def test_money_round_trips_exactly_from_a_json_number(amount: Decimal) -> None:
    body = json.loads('{"amount": ' + format(amount, "f") + "}", parse_float=Decimal)
    parsed = body["amount"]

    assert isinstance(parsed, (int, Decimal))  # never a float
    result = exact_money(parsed)
    assert isinstance(result, Decimal)
    assert result == amount


@checked(150)
@given(st.integers(-(10**MAX_INTEGER_DIGITS) + 1, 10**MAX_INTEGER_DIGITS - 1))
def test_money_from_an_int_is_exact(amount: int) -> None:
    assert exact_money(amount) == amount
    assert exact_money(str(amount)) == amount


@checked(200)
@given(st.floats() | st.booleans())
def test_money_refuses_floats_and_bools(value: float | bool) -> None:
    with pytest.raises(ValueError, match="is not an amount"):
        exact_money(value)


@checked(200)
@given(amounts(min_places=MAX_PLACES + 1, max_places=MAX_PLACES + 20).filter(bool))
def test_money_with_more_than_nine_places_is_refused(amount: Decimal) -> None:
    # a zero written with more places is still zero, and loads as such
    json_number = json.loads(format(amount, "f"), parse_float=Decimal)
    for value in (amount, str(amount), format(amount, "f"), json_number):
        with pytest.raises(ValueError, match="decimal places"):
            exact_money(value)


@checked(150)
@given(
    st.integers(MAX_INTEGER_DIGITS + 1, 45).flatmap(
        lambda width: st.integers(10 ** (width - 1), 10**width - 1)
    ),
    st.booleans(),
)
def test_money_with_too_many_integer_digits_is_refused(magnitude: int, negative: bool) -> None:
    value = -magnitude if negative else magnitude
    for candidate in (value, str(value), Decimal(value), Decimal(value).normalize()):
        with pytest.raises(ValueError, match="integer digits"):
            exact_money(candidate)


@pytest.mark.parametrize("text", ["0E+29", "0E+30", "-0E+40", "0.000E+35"])
def test_zero_written_with_a_large_exponent_is_an_amount(text: str) -> None:
    # zero has no integer digits however it is written, so it fits any money column
    assert exact_money(text) == 0
    assert exact_money(json.loads(text.replace("E", "e"), parse_float=Decimal)) == 0


# --- 4. calendar dates never move -----------------------------------------------------------

offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes))


def _offset_text(offset: timedelta, style: str) -> str:
    if style == "Z":
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return (
        f"{sign}{hours:02d}{minutes:02d}"
        if style == "compact"
        else f"{sign}{hours:02d}:{minutes:02d}"
    )


@checked(250)
@given(
    st.dates(),
    st.times(),
    offsets,
    st.sampled_from(["colon", "compact", "Z"]),
    st.sampled_from(["seconds", "milliseconds", "microseconds", "auto"]),
)
def test_calendar_date_never_moves(
    day: date, moment: time, offset: timedelta, style: str, timespec: str
) -> None:
    text = f"{day.isoformat()}T{moment.isoformat(timespec)}{_offset_text(offset, style)}"
    assert calendar_date(text) == day
    assert calendar_date(text.replace("T", " ", 1)) == day


@checked(200)
@given(st.dates(), st.times(), offsets)
def test_calendar_date_of_an_aware_datetime_is_its_own_day(
    day: date, moment: time, offset: timedelta
) -> None:
    value = datetime.combine(day, moment, tzinfo=timezone(offset))
    assert calendar_date(value) == day
    assert calendar_date(value.isoformat()) == day
    assert calendar_date(day) == day
