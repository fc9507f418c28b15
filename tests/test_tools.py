import pytest

from agentic_lab.tools import TOOLS, call_tool
from agentic_lab.world import build_world


@pytest.mark.parametrize("expr, result", [("347*28", "9716"), ("(3+4)*2", "14"), ("7/2", "3"), ("-5+2", "-3"),
                                          ("10%3", "1")])
def test_calc_computes_integer_arithmetic(expr, result):
    assert call_tool("calc", {"expr": expr}) == result


@pytest.mark.parametrize("expr", ["__import__('os').system('ls')", "9**9**9", "1/0", "2*" * 40 + "2", "1e9",
                                  "a+1", "(" * 30, "999999*999999*999999", ""])
def test_calc_refuses_anything_else_with_an_error_string(expr):
    assert call_tool("calc", {"expr": expr}).startswith("Error:")


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
