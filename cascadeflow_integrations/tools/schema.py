"""Tool definitions: normalisation to one universal shape, and validation of tool calls.

Universal tool: `{"name": str, "description": str, "parameters": <JSON Schema object>}`.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, Union, runtime_checkable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .call import ToolCall

__all__ = [
    "NAME_PATTERN",
    "ToolChoice",
    "normalize_tool_choice",
    "normalize_tools",
    "partial_arguments_violation",
    "schema_from_function",
    "validate_tool_call",
]

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ToolChoice = Union[None, Literal["auto", "required", "none"], dict[str, str]]  # noqa: UP007 (3.10 runtime alias)


@runtime_checkable
class _ToolLike(Protocol):
    """Anything shaped like `ToolConfig` (checked structurally to avoid an import cycle)."""

    name: str
    description: str
    parameters: dict[str, Any]


# ---------------------------------------------------------------------------- normalisation


def normalize_tools(tools: Sequence[Any] | None) -> list[dict[str, Any]]:
    """Convert tool definitions (universal, OpenAI, Anthropic, function, pydantic model, ToolConfig).

    Raises `ValueError` naming the tool and the field at fault. Duplicate names are rejected.
    """
    if tools is None:
        return []
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise ValueError(f"tools must be a list of tool definitions, got {type(tools).__name__}")
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, tool in enumerate(tools):
        t = normalize_tool(tool, position=i)
        if t["name"] in seen:
            raise ValueError(
                f"tools[{i}]: duplicate tool name {t['name']!r} (also tools[{seen[t['name']]}]); "
                "tool names must be unique, rename one of them"
            )
        seen[t["name"]] = i
        out.append(t)
    return out


def normalize_tool(tool: Any, position: int | None = None) -> dict[str, Any]:
    """Normalise one tool definition; see `normalize_tools`.

    A `risk` level (`"risk"` key, `metadata={"risk": ...}`, or `ToolConfig.risk`) is kept as `"risk"`.
    """
    where = f"tools[{position}]" if position is not None else "tool"
    out = _normalize_tool(tool, where)
    risk = _risk_of(tool)
    if risk is not None:
        out["risk"] = check_risk(risk, f"{where} ({out['name']!r})")
    return out


RISK_LEVELS = ("low", "medium", "high", "critical")


def check_risk(value: object, where: str) -> str | None:
    """A tool's `risk` value, checked: None or one of RISK_LEVELS (`quality.ToolRiskCheck` gates on it)."""
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in RISK_LEVELS:
        raise ValueError(f"{where}: risk {value!r} is not one of {', '.join(RISK_LEVELS)} (e.g. risk='high')")
    return value.lower()


def _risk_of(tool: Any) -> Any:
    if isinstance(tool, Mapping):
        fn = tool.get("function")
        md = tool.get("metadata")
        return (tool.get("risk") or (fn.get("risk") if isinstance(fn, Mapping) else None)
                or (md.get("risk") if isinstance(md, Mapping) else None))
    return getattr(tool, "risk", None) if not isinstance(tool, type) else None


def _normalize_tool(tool: Any, where: str) -> dict[str, Any]:
    if isinstance(tool, _ToolLike) and not isinstance(tool, (dict, type)):
        return check_tool_fields(where, tool.name, tool.description, tool.parameters)
    if isinstance(tool, Mapping):
        return _from_mapping(tool, where)
    if isinstance(tool, type) and _is_pydantic_model(tool):
        return _from_pydantic(tool, where)
    if callable(tool) and not isinstance(tool, type):
        name, description, params = schema_from_function(tool)
        return check_tool_fields(where, name, description, params)
    raise ValueError(
        f"{where}: unsupported tool definition of type {type(tool).__name__}; pass a dict "
        "({'name', 'description', 'parameters'} or an OpenAI/Anthropic tool), a function, "
        "a pydantic model class, or a ToolConfig"
    )


def _from_mapping(tool: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = tool.get("type")
    if kind == "function" and "function" in tool:  # OpenAI Chat Completions
        fn = tool["function"]
        if not isinstance(fn, Mapping):
            raise ValueError(f"{where}: field 'function' must be an object with 'name' and 'parameters'")
        return check_tool_fields(where, fn.get("name"), fn.get("description"), fn.get("parameters", None))
    if kind not in (None, "function", "custom"):
        raise ValueError(
            f"{where} ({tool.get('name', '?')!r}): provider built-in tools (type {kind!r}) are not "
            "supported; define the tool with 'name', 'description' and 'parameters'"
        )
    if "input_schema" in tool:  # Anthropic
        if "parameters" in tool:
            raise ValueError(f"{where}: give either 'parameters' or 'input_schema', not both")
        return check_tool_fields(where, tool.get("name"), tool.get("description"), tool["input_schema"])
    # Universal, or OpenAI Responses' flat {"type": "function", "name", "parameters"}.
    return check_tool_fields(where, tool.get("name"), tool.get("description"), tool.get("parameters", None))


def check_tool_fields(where: str, name: Any, description: Any, parameters: Any) -> dict[str, Any]:
    """Validate name, description and parameters; return the universal tool dict."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"{where}: field 'name' is {name!r}; a tool name must be 1-64 characters of "
            "letters, digits, '_' or '-' (e.g. 'get_weather')"
        )
    where = f"{where} ({name!r})"
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise ValueError(f"{where}: field 'description' must be a string, got {type(description).__name__}")
    return {"name": name, "description": description, "parameters": check_parameters(parameters, where)}


_checked: OrderedDict[str, None] = OrderedDict()  # JSON of schemas already checked (an LRU set)
_CHECKED_MAX = 512


def check_parameters(parameters: Any, where: str = "tool") -> dict[str, Any]:
    """Validate a parameters schema; returns a shallow copy (with `type: object` added if missing)."""
    if parameters is None:
        return {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise ValueError(
            f"{where}: field 'parameters' must be a JSON Schema object (a dict), got {type(parameters).__name__}"
        )
    params = dict(parameters)
    kind = params.get("type")
    if kind is None and "properties" in params:
        params["type"] = "object"  # common omission; providers require it
    elif kind != "object":
        raise ValueError(
            f"{where}: field 'parameters' must describe an object (\"type\": \"object\"), got type {kind!r}; "
            "wrap the value in 'properties'"
        )
    try:
        key = json.dumps(params, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: field 'parameters' is not JSON-serialisable ({e}); use plain JSON types") from None
    if key in _checked:  # the metaschema check is the slow part; skip it for schemas seen before
        _checked.move_to_end(key)
        return params
    try:
        Draft202012Validator.check_schema(params)
    except SchemaError as e:
        path = "/".join(str(p) for p in e.absolute_path) or "(root)"
        raise ValueError(f"{where}: field 'parameters' is not valid JSON Schema at {path}: {e.message}") from None
    _checked[key] = None
    if len(_checked) > _CHECKED_MAX:
        _checked.popitem(last=False)
    return params


def _is_pydantic_model(cls: type) -> bool:
    return callable(getattr(cls, "model_json_schema", None))


def _from_pydantic(model: type, where: str) -> dict[str, Any]:
    schema = dict(model.model_json_schema())  # type: ignore[attr-defined]
    schema.pop("title", None)
    doc_desc = schema.pop("description", None)
    description = _doc_description(inspect.getdoc(model) or "") if model.__doc__ else (doc_desc or "")
    return check_tool_fields(where, model.__name__, description, schema)


# ---------------------------------------------------------------------------- functions


def schema_from_function(fn: Callable[..., Any]) -> tuple[str, str, dict[str, Any]]:
    """(name, description, parameters) from a function's signature, type hints and docstring."""
    name = getattr(fn, "__name__", None) or type(fn).__name__
    doc = inspect.getdoc(fn) or ""
    param_docs = _param_docs(doc)
    try:
        hints = typing.get_type_hints(fn, include_extras=False)
    except Exception:  # unresolvable forward refs: fall back to raw annotations
        hints = dict(getattr(fn, "__annotations__", {}))
    props: dict[str, Any] = {}
    required: list[str] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("self", "cls"):
            continue
        prop = type_to_schema(hints.get(p.name, Any))
        if p.name in param_docs:
            prop["description"] = param_docs[p.name]
        if p.default is p.empty:
            required.append(p.name)
        else:
            default = p.default.value if isinstance(p.default, enum.Enum) else p.default
            try:
                json.dumps(default)
                prop["default"] = default
            except (TypeError, ValueError):
                pass  # not representable in JSON: leave it out
        props[p.name] = prop
    params: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        params["required"] = required
    return name, _doc_description(doc), params


_SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def type_to_schema(tp: Any) -> dict[str, Any]:
    """JSON Schema for a Python type hint (falls back to pydantic for anything exotic)."""
    if tp is Any or tp is inspect.Parameter.empty:
        return {}
    if tp is None or tp is type(None):
        return {"type": "null"}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return type_to_schema(args[0])
    if origin is Union or origin is types.UnionType:
        non_null = [a for a in args if a is not type(None)]
        inner = [type_to_schema(a) for a in non_null]
        if len(non_null) < len(args):
            inner.append({"type": "null"})
        return inner[0] if len(inner) == 1 else {"anyOf": inner}
    if origin is Literal:
        schema: dict[str, Any] = {"enum": list(args)}
        kinds = {_SIMPLE.get(type(a)) for a in args}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        schema = {"enum": values}
        kinds = {_SIMPLE.get(type(v)) for v in values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        items = [type_to_schema(a) for a in args]
        return {"type": "array", "prefixItems": items, "minItems": len(args), "maxItems": len(args)}
    if tp in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset, Sequence):
        return {"type": "array", "items": type_to_schema(args[0])} if args else {"type": "array"}
    if tp is dict or origin in (dict, Mapping):
        schema = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            schema["additionalProperties"] = type_to_schema(args[1])
        return schema
    try:  # pydantic models, TypedDicts, dataclasses, datetimes, ...
        from pydantic import TypeAdapter

        out = dict(TypeAdapter(tp).json_schema())
        out.pop("title", None)
        return out
    except Exception:
        return {}


def _doc_description(doc: str) -> str:
    """The docstring's first paragraph, on one line."""
    para = doc.strip().split("\n\n", 1)[0]
    if re.match(r"^(Args|Arguments|Parameters|Returns|Raises|:param)\b", para):
        return ""
    return " ".join(line.strip() for line in para.splitlines())


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments)\s*:?\s*$")
_OTHER_SECTION = re.compile(r"^(Returns?|Yields?|Raises|Examples?|Notes?|See Also|Attributes|Warns?)\s*:?\s*$")


def _param_docs(doc: str) -> dict[str, str]:
    """Parameter descriptions from Google, NumPy or Sphinx style docstrings."""
    out: dict[str, str] = {}
    for sm in re.finditer(r":param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.+?)(?=\n\s*:|\n\s*\n|\Z)", doc, re.DOTALL):
        out[sm.group(1)] = " ".join(sm.group(2).split())
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        if not _SECTION.match(lines[i].strip()):
            i += 1
            continue
        i += 1
        if i < len(lines) and set(lines[i].strip()) == {"-"}:  # NumPy underline
            i += 1
        current: str | None = None
        base_indent: int | None = None
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                i += 1
                continue
            indent = len(line) - len(line.lstrip())
            if _OTHER_SECTION.match(stripped) or (_SECTION.match(stripped) and indent == 0):
                break
            if base_indent is None:
                base_indent = indent
            if indent < base_indent:
                break
            m = re.match(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*(:)?\s*(.*)$", stripped)
            if indent == base_indent and m and (m.group(3) or m.group(2) is not None):
                current = m.group(1)
                rest = m.group(4)
                # NumPy "name : type" has the description on following lines; Google has it inline.
                numpy_style = m.group(3) and m.group(2) is None and re.match(r"^\s*\w+\s+:", stripped)
                out[current] = "" if numpy_style else rest.strip()
            elif current is not None:
                out[current] = (out[current] + " " + stripped).strip()
            i += 1
    return {k: v for k, v in out.items() if v}


# ---------------------------------------------------------------------------- tool choice


_MODES: dict[str, Literal["auto", "required", "none"]] = {
    "auto": "auto",
    "required": "required",
    "none": "none",
    "any": "required",  # Anthropic's name for "required"
}


def normalize_tool_choice(tool_choice: Any, tools: Sequence[Any] | None) -> ToolChoice:
    """`None | "auto" | "required" | "none" | {"name": str}` from any provider's tool_choice form."""
    if tool_choice is None:
        return None
    names = _tool_names(tools)
    if not names:
        raise ValueError(f"tool_choice={tool_choice!r} was given without tools; pass tools= or drop tool_choice")
    if tool_choice is True:
        return "required"
    if tool_choice is False:
        return "none"
    name: Any = None
    if isinstance(tool_choice, str):
        mode = tool_choice.strip().lower()
        if mode in _MODES:
            return _MODES[mode]
        name = tool_choice
    elif isinstance(tool_choice, Mapping):
        kind = tool_choice.get("type")
        if isinstance(kind, str) and kind in _MODES:
            return _MODES[kind]
        if kind == "function" and isinstance(tool_choice.get("function"), Mapping):
            name = tool_choice["function"].get("name")
        elif kind in ("function", "tool", None):
            name = tool_choice.get("name")
        else:
            raise ValueError(f"tool_choice has unknown type {kind!r}; use 'auto', 'required', 'none' or a tool name")
    else:
        raise ValueError(f"tool_choice must be a string, dict or bool, got {type(tool_choice).__name__}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool_choice {tool_choice!r} names no tool; use e.g. {{'type': 'function', 'function': {{'name': ...}}}}")
    if name not in names:
        raise ValueError(f"tool_choice names unknown tool {name!r}; available tools: {', '.join(names)}")
    return {"name": name}


def _tool_names(tools: Sequence[Any] | None) -> list[str]:
    names: list[str] = []
    for i, t in enumerate(tools or ()):
        if isinstance(t, Mapping) and isinstance(t.get("name"), str):
            names.append(t["name"])
        elif isinstance(t, Mapping) and isinstance(t.get("function"), Mapping):
            names.append(str(t["function"].get("name")))
        else:
            names.append(normalize_tool(t, i)["name"])
    return names


# ---------------------------------------------------------------------------- call validation


def _params_of(tool_or_schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept a universal tool dict or a bare parameters schema."""
    params = tool_or_schema.get("parameters")
    if isinstance(params, Mapping) and "name" in tool_or_schema:
        return params
    return tool_or_schema


_validators: OrderedDict[int, tuple[Mapping[str, Any], Draft202012Validator]] = OrderedDict()
_VALIDATORS_MAX = 256


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A cached validator, keyed by the schema object's identity (kept alive by the cache)."""
    hit = _validators.get(id(schema))
    if hit is not None and hit[0] is schema:
        _validators.move_to_end(id(schema))
        return hit[1]
    v = Draft202012Validator(schema)
    _validators[id(schema)] = (schema, v)
    if len(_validators) > _VALIDATORS_MAX:
        _validators.popitem(last=False)
    return v


def validate_tool_call(call: ToolCall, tools_by_name: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Problems with a tool call, human-readable (without the tool name); an empty list means valid.

    `tools_by_name` maps a name to its universal tool dict (or to its parameters schema).
    """
    tool = tools_by_name.get(call.name)
    if tool is None:
        avail = ", ".join(tools_by_name) or "(none)"
        return [f"unknown tool {call.name!r}; available tools: {avail}"]
    if call.parse_error:
        return [call.parse_error]
    schema = _params_of(tool)
    errors = sorted(_validator(schema).iter_errors(call.arguments), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]


def _path(parts: Sequence[Any]) -> str:
    out = "arguments"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


# ---------------------------------------------------------------------------- streaming check


def partial_arguments_violation(name: str, partial_obj: Any, tool_schema: Mapping[str, Any]) -> str | None:
    """A reason if partial arguments already break the schema in a way more data cannot fix.

    Conservative: only the type of every started value (which never changes), keys that
    `additionalProperties: false` forbids, and string/array lengths and enums as far as a prefix
    allows. Numbers, booleans and null are judged in full: `ProgressiveJSONParser` only exposes
    them once complete. Missing required keys are never judged (they may still come).
    Cost is linear in the size of `partial_obj`.
    """
    schema = _params_of(tool_schema)
    # `name` is accepted for symmetry with validate_tool_call; callers prefix it to the reason.
    return _partial_check(partial_obj, schema, schema, "arguments", 0)


_JSON_TYPES: dict[type, tuple[str, ...]] = {
    dict: ("object",),
    list: ("array",),
    str: ("string",),
    bool: ("boolean",),
    type(None): ("null",),
    int: ("integer", "number"),
    float: ("number",),
}


def _partial_check(v: Any, s: Any, root: Mapping[str, Any], path: str, depth: int) -> str | None:
    if not isinstance(s, Mapping) or depth > 64:
        return None  # `true`/`false` schemas and pathological depth: don't judge
    if "$ref" in s:
        ref = s["$ref"]
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, Mapping) else None
            r = _partial_check(v, target, root, path, depth + 1)
            if r:
                return r
    for sub in s.get("allOf", ()):
        r = _partial_check(v, sub, root, path, depth + 1)
        if r:
            return r
    for key in ("anyOf", "oneOf"):
        branches = s.get(key)
        if branches:
            reasons = [_partial_check(v, b, root, path, depth + 1) for b in branches]
            if all(reasons):
                return reasons[0]
    kinds = _JSON_TYPES.get(type(v), ())
    expected = s.get("type")
    if expected is not None and kinds:
        allowed = [expected] if isinstance(expected, str) else list(expected)
        ok = any(k in allowed for k in kinds) or (
            "integer" in allowed and isinstance(v, float) and v.is_integer()
        )
        if not ok:
            return f"{path}: expected {' or '.join(allowed)}, got {kinds[0]}"
    if isinstance(v, str):
        return _partial_string(v, s, path)
    if isinstance(v, dict):
        props = s.get("properties") or {}
        extra = s.get("additionalProperties", True)
        for k, item in v.items():
            if k in props:
                r = _partial_check(item, props[k], root, f"{path}.{k}", depth + 1)
            elif extra is False:
                allowed_keys = ", ".join(props) or "(none)"
                return f"{path}: unexpected argument {k!r} (allowed: {allowed_keys})"
            else:
                r = _partial_check(item, extra, root, f"{path}.{k}", depth + 1)
            if r:
                return r
        return None
    if isinstance(v, list):
        max_items = s.get("maxItems")
        if isinstance(max_items, int) and len(v) > max_items:
            return f"{path}: more than {max_items} items"
        items = s.get("items")
        for i, item in enumerate(v):
            r = _partial_check(item, items, root, f"{path}[{i}]", depth + 1)
            if r:
                return r
        return None
    # A complete scalar: enum/const apply exactly.
    if "enum" in s and isinstance(s["enum"], list) and not any(_json_eq(v, e) for e in s["enum"]):
        return f"{path}: {v!r} is not one of {s['enum']!r}"
    if "const" in s and not _json_eq(v, s["const"]):
        return f"{path}: expected {s['const']!r}, got {v!r}"
    return None


def _partial_string(v: str, s: Mapping[str, Any], path: str) -> str | None:
    """A string may still grow: judge only what a longer string cannot fix."""
    max_len = s.get("maxLength")
    if isinstance(max_len, int) and len(v) > max_len:
        return f"{path}: longer than {max_len} characters"
    enum_vals = s.get("enum")
    if isinstance(enum_vals, list) and not any(isinstance(e, str) and e.startswith(v) for e in enum_vals):
        return f"{path}: {v!r} cannot become one of {enum_vals!r}"
    const = s.get("const")
    if "const" in s and not (isinstance(const, str) and const.startswith(v)):
        return f"{path}: {v!r} cannot become {const!r}"
    return None


def _json_eq(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)
