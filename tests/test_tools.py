import time

import pytest

from agentic_lab.tools import TOOL_FAILURE, TOOLS, Tool, call_tool
from agentic_lab.world import build_world, fact_table


@pytest.mark.parametrize("expr, result", [("347*28", "9716"), ("(3+4)*2", "14"), ("7/2", "3"), ("-5+2", "-3"),
                                          ("10%3", "1")])
def test_calc_computes_integer_arithmetic(expr, result):
    assert call_tool("calc", {"expr": expr}) == result


@pytest.mark.parametrize("expr", ["__import__('os').system('ls')", "9**9**9", "1/0", "2*" * 40 + "2", "1e9",
                                  "a+1", "(" * 30, "999999*999999*999999", ""])
def test_calc_refuses_anything_else_with_an_error_string(expr):
    assert call_tool("calc", {"expr": expr}).startswith("Error:")


def test_calc_refuses_what_python_parses_with_a_warning_and_prints_nothing():
    """'12if 1else 3' parses, with a SyntaxWarning the notebook would print; the model's text is refused quietly."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert call_tool("calc", {"expr": "12if 1else 3"}).startswith("Error:")
    assert not [w for w in caught if issubclass(w.category, SyntaxWarning)]


@pytest.mark.parametrize("name, arguments", [("calc", {}), ("calc", {"expr": 3}), ("calc", {"expr": "1", "x": 1}),
                                             ("nope", {"q": "x"}), ("search", "Zorvia")])
def test_misused_tools_give_error_observations(name, arguments):
    assert call_tool(name, arguments).startswith("Error:")


def test_search_finds_the_note_of_every_entity():
    world = build_world()
    for entity in world.countries + world.people:
        assert call_tool("search", {"query": entity.name}) == entity.note()
        assert call_tool("search", {"query": f"tell me about {entity.name.lower()}"}) == entity.note()
    assert call_tool("search", {"query": "qqq"}).startswith("No note found")


def test_tool_schemas_are_what_chat_templates_expect():
    for tool in TOOLS.values():
        schema = tool.schema()["function"]
        assert schema["name"] == tool.name and set(schema["parameters"]["properties"]) == set(tool.parameters)


def test_lookup_reads_every_field_of_the_fact_table():
    world = build_world()
    country, person = world.countries[0], world.people[0]
    assert call_tool("lookup", {"name": country.name, "field": "capital"}) == country.capital
    assert call_tool("lookup", {"name": person.name.upper(), "field": "born"}) == str(person.born)
    for name, facts in list(fact_table().items())[::50]:
        assert all(call_tool("lookup", {"name": name, "field": f}) == value for f, value in facts.items())


@pytest.mark.parametrize("arguments", [{"name": "Qqq", "field": "capital"}, {"name": "Zibo", "field": "capital"},
                                       {"name": "Zibo"}, {"name": "Zibo", "field": 3}])
def test_lookup_refuses_unknown_names_and_fields(arguments):
    assert call_tool("lookup", arguments).startswith("Error:")


def _sleep(seconds: int) -> str:
    time.sleep(seconds)
    return "late"


@pytest.mark.parametrize("tool", [
    Tool("t", "raises", {"x": (int, "")}, lambda x: str(1 // x)),                    # ZeroDivisionError
    Tool("t", "times out", {"x": (int, "")}, _sleep, timeout=0.05),
    Tool("t", "raises in its thread", {"x": (int, "")}, lambda x: str(1 // x), timeout=1.0),
    Tool("t", "returns no text", {"x": (int, "")}, lambda x: {"x": x}),
    Tool("t", "returns a flood", {"x": (int, "")}, lambda x: "a" * 10**6),
])
def test_a_failing_tool_gives_a_tool_error_not_an_exception(tool):
    start = time.perf_counter()
    observation = call_tool("t", {"x": 0 if "raises" in tool.description else 2}, {"t": tool})
    assert observation.startswith(TOOL_FAILURE) and time.perf_counter() - start < 0.5, observation


def test_a_tool_with_a_timeout_answers_when_it_is_in_time():
    tool = Tool("t", "fast", {"x": (int, "")}, lambda x: str(x + 1), timeout=1.0)
    assert call_tool("t", {"x": 1}, {"t": tool}) == "2"
