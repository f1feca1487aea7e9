"""Renders the endpoint map reference (a Markdown table) from the typed dicts in `map_schema`.

Run `python -m billing.map_reference` to print it; the package README holds its output.
"""

from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from typing_extensions import Required, is_typeddict

from .map_schema import EndpointMapSpec


def _unwrap(hint: Any) -> tuple[Any, str]:
    """Strips `Required` and `Annotated`, returning the bare type and its description."""
    doc = ""
    while get_origin(hint) in (Required, Annotated):
        args = get_args(hint)
        if get_origin(hint) is Annotated:
            doc = doc or str(args[1])
        hint = args[0]
    return hint, doc


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


def reference_rows(spec: Any = EndpointMapSpec, prefix: str = "", seen: Any = None) -> list[str]:
    """One table row per key; a key type met again refers to where it was described."""
    seen = {} if seen is None else seen
    rows = []
    for name, hint in spec.__annotations__.items():
        path = f"{prefix}{name}"
        required = "yes" if name in spec.__required_keys__ else ""
        nested, joint = _nested_spec(hint)
        described_by = nested if nested is not None else _unwrap_required(hint)
        if described_by in seen:
            rows.append(
                f"| `{path}` | {_type_text(hint)} | {required} | As `{seen[described_by]}`. |"
            )
            continue
        seen[described_by] = path
        rows.append(f"| `{path}` | {_type_text(hint)} | {required} | {_unwrap(hint)[1]} |")
        if nested is not None:
            rows.extend(reference_rows(nested, f"{path}{joint}", seen))
    return rows


def _unwrap_required(hint: Any) -> Any:
    return get_args(hint)[0] if get_origin(hint) is Required else hint


def reference_table() -> str:
    """The whole reference table, header included."""
    header = ["| key | type | required | meaning |", "| --- | --- | --- | --- |"]
    return "\n".join(header + reference_rows()) + "\n"


if __name__ == "__main__":
    print(reference_table(), end="")
