"""Renders the endpoint map reference (a Markdown table) from the typed dicts in `map_schema`.

Run `python -m billing.map_reference` to print it; the package README holds its output.
Each key's example is its value in the first bundled map that sets it (the default map,
then the vendor profiles), or the one `map_schema` gives where no bundled map sets it.
"""

from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from typing_extensions import Required, is_typeddict

from .endpoint_map import bundled_map_names, load_endpoint_map
from .map_schema import EndpointMapSpec

MAX_EXAMPLE = 48


def _unwrap(hint: Any) -> tuple[Any, str]:
    """Strips `Required` and `Annotated`, returning the bare type and its description."""
    doc = ""
    while get_origin(hint) in (Required, Annotated):
        args = get_args(hint)
        if get_origin(hint) is Annotated:
            doc = doc or str(args[1])
        hint = args[0]
    return hint, doc


def _given_example(hint: Any) -> str:
    """The example `map_schema` writes after a key's description, if any."""
    while get_origin(hint) in (Required, Annotated):
        if get_origin(hint) is Annotated and len(get_args(hint)) > 2:
            return str(get_args(hint)[2])
        hint = get_args(hint)[0]
    return ""


def _values(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every key path of a map with its value, lists as `[]` and names as `<name>`."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        named = path.endswith((".columns", ".nested_money", ".headers", ".params"))
        child = f"{path}.<name>" if named else (f"{path}.{key}" if path else str(key))
        yield child, ({key: value} if named else value)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                yield from _values(item, f"{child}[]")
        elif not named or isinstance(value, dict):
            yield from _values(value, child)


def bundled_examples() -> dict[str, str]:
    """Each key path's example from the bundled maps: the first value short enough to show
    whole, else the first value, cut short."""
    found: dict[str, list[Any]] = {}
    for name in ["endpoints", *(other for other in bundled_map_names() if other != "endpoints")]:
        for path, value in _values(dict(load_endpoint_map(name).spec)):
            key = path.removesuffix(".<name>")
            found.setdefault(key, []).append(value)
            if key.startswith("resource_defaults."):  # described as the resources' own keys
                found.setdefault(key.replace("resource_defaults.", "resources[].", 1), []).append(
                    value
                )
    return {
        key: next((_flow(v) for v in values if len(_flow(v)) <= MAX_EXAMPLE), _shown(values[0]))
        for key, values in found.items()
    }


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False).strip()
    return text.removesuffix("...").strip()


def _shown(value: Any) -> str:
    """A value in YAML's flow style; a long mapping shows its first entries."""
    text = _flow(value)
    if len(text) <= MAX_EXAMPLE or not isinstance(value, dict):
        return text
    shown: dict[str, Any] = {}
    for key, item in value.items():
        if len(_flow({**shown, key: item})) > MAX_EXAMPLE - 5:
            break
        shown[key] = item
    return _flow(shown)[:-1] + ", ...}" if shown else "{...}"


def _type_text(hint: Any) -> str:
    hint, _ = _unwrap(hint)
    origin = get_origin(hint)
    if origin is Literal:
        return " \\| ".join(f"`{choice}`" for choice in get_args(hint))
    if origin in (Union, UnionType):
        return " or ".join(_type_text(option) for option in get_args(hint))
    if origin is list:
        return f"list of {_type_text(get_args(hint)[0])}"
    if origin is dict:
        return f"mapping of {_type_text(get_args(hint)[1])}"
    if is_typeddict(hint):
        return "mapping"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(hint, str(hint))


def _nested_spec(hint: Any) -> tuple[Any, str]:
    """The typed dict under a key, with the path suffix that reaches its keys."""
    hint, _ = _unwrap(hint)
    if is_typeddict(hint):
        return hint, "."
    if get_origin(hint) is list and is_typeddict(get_args(hint)[0]):
        return get_args(hint)[0], "[]."
    if get_origin(hint) is dict and is_typeddict(get_args(hint)[1]):
        return get_args(hint)[1], ".<name>."
    return None, ""


def reference_rows(
    spec: Any = EndpointMapSpec,
    prefix: str = "",
    seen: Any = None,
    examples: dict[str, str] | None = None,
) -> list[str]:
    """One table row per key; a key type met again refers to where it was described."""
    seen = {} if seen is None else seen
    examples = bundled_examples() if examples is None else examples
    rows = []
    for name, hint in spec.__annotations__.items():
        path = f"{prefix}{name}"
        required = "yes" if name in spec.__required_keys__ else ""
        nested, joint = _nested_spec(hint)
        described_by = nested if nested is not None else _unwrap_required(hint)
        if described_by in seen:
            reference = f"As `{seen[described_by]}`."
            rows.append(f"| `{path}` | {_type_text(hint)} | {required} | {reference} |  |")
            continue
        seen[described_by] = path
        example = examples.get(path) or _given_example(hint)
        shown = "`" + example.replace("|", "\\|") + "`" if example else ""
        meaning = _unwrap(hint)[1]
        rows.append(f"| `{path}` | {_type_text(hint)} | {required} | {meaning} | {shown} |")
        if nested is not None:
            rows.extend(reference_rows(nested, f"{path}{joint}", seen, examples))
    return rows


def _unwrap_required(hint: Any) -> Any:
    return get_args(hint)[0] if get_origin(hint) is Required else hint


def reference_table() -> str:
    """The whole reference table, header included."""
    header = [
        "| key | type | required | meaning | example |",
        "| --- | --- | --- | --- | --- |",
    ]
    return "\n".join(header + reference_rows()) + "\n"


if __name__ == "__main__":
    print(reference_table(), end="")
