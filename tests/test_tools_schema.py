"""Tool definitions: normalisation, tool_choice, call validation, early-abort checks."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from pydantic import BaseModel

from cascadeflow_integrations.tools import (
    ProgressiveJSONParser,
    ToolCall,
    ToolConfig,
    normalize_tool_choice,
    normalize_tools,
    partial_arguments_violation,
    validate_tool_call,
)

WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1},
    },
    "required": ["city"],
    "additionalProperties": False,
}
UNIVERSAL = {"name": "get_weather", "description": "Weather for a city.", "parameters": WEATHER_PARAMS}


# ---------------------------------------------------------------------------- formats


def test_universal_openai_anthropic_and_responses_forms_agree() -> None:
    forms = [
        UNIVERSAL,
        {"type": "function", "function": UNIVERSAL},
        {"name": "get_weather", "description": "Weather for a city.", "input_schema": WEATHER_PARAMS},
        {"type": "function", **UNIVERSAL},
    ]
    for f in forms:
        assert normalize_tools([f]) == [UNIVERSAL]


def test_defaults_for_missing_description_and_parameters() -> None:
    assert normalize_tools([{"name": "ping"}]) == [
        {"name": "ping", "description": "", "parameters": {"type": "object", "properties": {}}}
    ]
    assert normalize_tools(None) == []


def test_missing_object_type_is_added() -> None:
    [t] = normalize_tools([{"name": "f", "parameters": {"properties": {"a": {"type": "string"}}}}])
    assert t["parameters"]["type"] == "object"


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def weather(city: str, unit: Unit = Unit.C, days: int | None = None, tags: list[str] | None = None,
            mode: Literal["fast", "full"] = "fast", extra: dict[str, float] = {}) -> str:  # noqa: B006
    """Get the weather
    for a city.

    Longer explanation that is not part of the description.

    Args:
        city (str): The city name,
            e.g. Paris.
        unit: Temperature unit.
        days: How many days ahead.

    Returns:
        A forecast.
    """
    return city


def test_function_schema_from_signature_and_google_docstring() -> None:
    [t] = normalize_tools([weather])
    assert t["name"] == "weather"
    assert t["description"] == "Get the weather for a city."
    p = t["parameters"]
    assert p["required"] == ["city"]
    props = p["properties"]
    assert props["city"] == {"type": "string", "description": "The city name, e.g. Paris."}
    assert props["unit"] == {"enum": ["celsius", "fahrenheit"], "type": "string",
                             "description": "Temperature unit.", "default": "celsius"}
    assert props["days"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert props["days"]["description"] == "How many days ahead."
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert props["mode"] == {"enum": ["fast", "full"], "type": "string", "default": "fast"}
    assert props["extra"] == {"type": "object", "additionalProperties": {"type": "number"}, "default": {}}


def numpy_style(x: int, y: float = 1.5) -> float:
    """Scale a value.

    Parameters
    ----------
    x : int
        The value
        to scale.
    y : float
        The factor.

    Returns
    -------
    float
    """
    return x * y


def sphinx_style(q: str) -> str:
    """Search.

    :param q: the query text
    """
    return q


def test_numpy_and_sphinx_docstrings() -> None:
    a, b = normalize_tools([numpy_style, sphinx_style])
    assert a["description"] == "Scale a value."
    assert a["parameters"]["properties"]["x"]["description"] == "The value to scale."
    assert a["parameters"]["properties"]["y"] == {"type": "number", "description": "The factor.", "default": 1.5}
    assert b["parameters"]["properties"]["q"]["description"] == "the query text"


async def async_tool(n: int) -> int:
    """Double it."""
    return 2 * n


def test_async_function_and_lambda_names() -> None:
    [t] = normalize_tools([async_tool])
    assert t["name"] == "async_tool" and t["parameters"]["required"] == ["n"]
    with pytest.raises(ValueError, match="name"):
        normalize_tools([lambda x: x])  # '<lambda>' is not a valid tool name


class SearchArgs(BaseModel):
    """Search the web.

    Details."""

    query: str
    top_k: int = 5


def test_pydantic_model() -> None:
    [t] = normalize_tools([SearchArgs])
    assert t["name"] == "SearchArgs"
    assert t["description"] == "Search the web."
    assert t["parameters"]["required"] == ["query"]
    assert "title" not in t["parameters"]


def test_tool_config_is_accepted() -> None:
    cfg = ToolConfig(name="get_weather", description="Weather for a city.", parameters=WEATHER_PARAMS, function=weather)
    assert normalize_tools([cfg]) == [UNIVERSAL]
    assert ToolConfig.from_function(weather).name == "weather"


# ---------------------------------------------------------------------------- bad definitions


@pytest.mark.parametrize(
    ("tool", "needle"),
    [
        ({"description": "no name"}, r"tools\[0\]: field 'name'"),
        ({"name": ""}, "field 'name'"),
        ({"name": "has space"}, "field 'name'.*letters, digits"),
        ({"name": "x" * 65}, "field 'name'"),
        ({"name": 3}, "field 'name'"),
        ({"name": "f", "description": 5}, "'f'.*field 'description' must be a string"),
        ({"name": "f", "parameters": "nope"}, "'f'.*field 'parameters' must be a JSON Schema object"),
        ({"name": "f", "parameters": {"type": "string"}}, "'f'.*must describe an object"),
        ({"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "strin"}}}},
         "'f'.*not valid JSON Schema at properties/a/type"),
        ({"name": "f", "parameters": {"type": "object", "required": "a"}}, "not valid JSON Schema at required"),
        ({"name": "f", "parameters": {"type": "object", "default": object()}}, "not JSON-serialisable"),
        ({"type": "function", "function": "f"}, "field 'function' must be an object"),
        ({"type": "web_search_20250305", "name": "web_search"}, "built-in tools"),
        ({"name": "f", "parameters": {"type": "object"}, "input_schema": {"type": "object"}}, "not both"),
        (42, "unsupported tool definition of type int"),
        ("get_weather", "unsupported tool definition of type str"),
    ],
)
def test_bad_definitions_name_the_tool_and_field(tool: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        normalize_tools([tool])


def test_duplicate_names_and_non_list() -> None:
    with pytest.raises(ValueError, match=r"tools\[1\]: duplicate tool name 'get_weather' \(also tools\[0\]\)"):
        normalize_tools([UNIVERSAL, {"type": "function", "function": UNIVERSAL}])
    with pytest.raises(ValueError, match="must be a list"):
        normalize_tools(UNIVERSAL)  # type: ignore[arg-type]


def test_bad_tool_config() -> None:
    with pytest.raises(ValueError, match="field 'name'"):
        ToolConfig(name="bad name")
    with pytest.raises(ValueError, match="must describe an object"):
        ToolConfig(name="f", parameters={"type": "array"})
    with pytest.raises(ValueError, match="callable"):
        ToolConfig(name="f", function=3)
    with pytest.raises(ValueError):
        ToolConfig(name="f", timeout=0)


# ---------------------------------------------------------------------------- tool_choice


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        ("auto", "auto"),
        ("required", "required"),
        ("none", "none"),
        ("any", "required"),
        (True, "required"),
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "required"}, "required"),
        ({"type": "function", "function": {"name": "get_weather"}}, {"name": "get_weather"}),
        ({"type": "tool", "name": "get_weather"}, {"name": "get_weather"}),
        ({"type": "function", "name": "get_weather"}, {"name": "get_weather"}),
        ("get_weather", {"name": "get_weather"}),
        ({"name": "get_weather"}, {"name": "get_weather"}),
    ],
)
def test_tool_choice_forms(choice: object, expected: object) -> None:
    assert normalize_tool_choice(choice, [UNIVERSAL]) == expected


def test_tool_choice_errors() -> None:
    with pytest.raises(ValueError, match="unknown tool 'nope'; available tools: get_weather"):
        normalize_tool_choice({"type": "tool", "name": "nope"}, [UNIVERSAL])
    with pytest.raises(ValueError, match="without tools"):
        normalize_tool_choice("auto", [])
    with pytest.raises(ValueError, match="without tools"):
        normalize_tool_choice("auto", None)
    with pytest.raises(ValueError, match="unknown type"):
        normalize_tool_choice({"type": "bogus"}, [UNIVERSAL])
    with pytest.raises(ValueError, match="names no tool"):
        normalize_tool_choice({"type": "function", "function": {}}, [UNIVERSAL])
    assert normalize_tool_choice("weather", [weather]) == {"name": "weather"}
    assert normalize_tool_choice(None, None) is None


# ---------------------------------------------------------------------------- call validation

BY_NAME = {"get_weather": UNIVERSAL}


def test_valid_call() -> None:
    assert validate_tool_call(ToolCall("1", "get_weather", {"city": "Paris", "days": 2}), BY_NAME) == []
    assert validate_tool_call(ToolCall("1", "get_weather", '{"city": "Paris"}'), BY_NAME) == []
    # A bare parameters schema works too.
    assert validate_tool_call(ToolCall("1", "get_weather", {"city": "x"}), {"get_weather": WEATHER_PARAMS}) == []


def test_unknown_tool_and_unparseable_arguments() -> None:
    [p] = validate_tool_call(ToolCall("1", "get_wether", {}), BY_NAME)
    assert "unknown tool 'get_wether'" in p and "get_weather" in p
    [p] = validate_tool_call(ToolCall("1", "get_weather", '{"city": "Par'), BY_NAME)
    assert "not valid JSON" in p


def test_schema_violations_are_each_reported_with_paths() -> None:
    problems = validate_tool_call(
        ToolCall("1", "get_weather", {"unit": "kelvin", "days": "2", "zip": 1}), BY_NAME
    )
    text = "\n".join(problems)
    assert len(problems) == 4
    assert "'city' is a required property" in text
    assert "arguments.unit: 'kelvin' is not one of" in text
    assert "arguments.days: '2' is not of type 'integer'" in text
    assert "Additional properties are not allowed ('zip' was unexpected)" in text


def test_nested_paths() -> None:
    tool = {"name": "t", "parameters": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {"q": {"type": "integer"}}}}}}}
    [p] = validate_tool_call(ToolCall("1", "t", {"items": [{"q": 1}, {"q": "x"}]}), {"t": tool})
    assert p.startswith("arguments.items[1].q:")


# ---------------------------------------------------------------------------- partial checks


@pytest.mark.parametrize(
    ("partial", "bad"),
    [
        ({}, False),
        ({"city": "Par"}, False),
        ({"city": 3}, True),  # complete number where a string is expected
        ({"unit": "cel"}, False),  # could still become "celsius"
        ({"unit": "kel"}, True),  # cannot become any enum value
        ({"days": "2"}, True),  # a string can never become an integer
        ({"days": 2}, False),
        ({"days": 2.0}, False),  # 2.0 is an integer in JSON Schema
        ({"days": True}, True),  # booleans are not integers
        ({"zip": "1"}, True),  # additionalProperties: false
    ],
)
def test_partial_arguments_violation(partial: dict[str, object], bad: bool) -> None:
    r = partial_arguments_violation("get_weather", partial, UNIVERSAL)
    assert (r is not None) == bad, r
    if r:
        assert r.startswith("arguments")


def test_partial_violation_nested_anyof_ref_and_lengths() -> None:
    [t] = normalize_tools([SearchArgs])
    assert partial_arguments_violation("s", {"query": "x", "top_k": "5"}, t) is not None
    schema = {
        "type": "object",
        "$defs": {"Loc": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 3}},
                          "additionalProperties": False}},
        "properties": {
            "loc": {"$ref": "#/$defs/Loc"},
            "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
    }
    assert partial_arguments_violation("t", {"loc": {"city": "Par"}}, schema) is None
    assert "longer than 3" in (partial_arguments_violation("t", {"loc": {"city": "Pari"}}, schema) or "")
    assert "unexpected argument 'x'" in (partial_arguments_violation("t", {"loc": {"x": 1}}, schema) or "")
    assert partial_arguments_violation("t", {"n": None}, schema) is None
    assert partial_arguments_violation("t", {"n": "1"}, schema) is not None
    assert partial_arguments_violation("t", {"tags": ["a", 1]}, schema) is not None
    assert partial_arguments_violation("t", {"tags": ["a", "b", "c"]}, schema) is not None


def test_partial_check_on_streamed_prefixes_never_flags_a_valid_call() -> None:
    text = '{"city": "Paris", "unit": "celsius", "days": 12}'
    for i in range(len(text) + 1):
        p = ProgressiveJSONParser()
        p.feed(text[:i])
        assert partial_arguments_violation("get_weather", p.value or {}, UNIVERSAL) is None, text[:i]
    p = ProgressiveJSONParser()
    p.feed('{"city": "Paris", "unit": "kel')
    assert "cannot become" in (partial_arguments_violation("get_weather", p.value, UNIVERSAL) or "")
