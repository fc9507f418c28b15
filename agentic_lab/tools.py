"""Tools an agent can call. Each tool is declared once: name, description, typed arguments, function.

`Tool.schema()` gives the JSON schema that `tokenizer.apply_chat_template(messages, tools=[...])`
renders into the prompt; `call_tool(name, arguments)` runs it. A tool never raises on bad input:
it returns an error string, because in an agent loop an error is just another observation.

Two kinds of error observation, told apart by their first word because an environment scores them apart:
- "Error: ..." the agent misused the tool (unknown tool, wrong or missing arguments, a value the tool
  refuses). The agent's fault: environments charge it a penalty.
- "Tool error: ..." the tool itself failed: it raised, ran past its timeout or returned something that is
  not text. Not the agent's fault: no penalty, and the episode goes on.
"""
from __future__ import annotations

import ast
import operator
import threading
import warnings
from dataclasses import dataclass
from typing import Callable

from agentic_lab import world


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, tuple[type, str]]  # argument name -> (python type, description)
    function: Callable[..., str]
    timeout: float | None = None  # seconds; a call still running then is abandoned (a "Tool error")

    def schema(self) -> dict:
        """OpenAI/Hugging Face function schema, as `apply_chat_template(tools=...)` expects."""
        json_type = {str: "string", int: "integer", float: "number", bool: "boolean"}
        properties = {arg: {"type": json_type[t], "description": d} for arg, (t, d) in self.parameters.items()}
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {"type": "object", "properties": properties, "required": list(self.parameters)},
            },
        }


TOOLS: dict[str, Tool] = {}


def register_tool(tool: Tool) -> Tool:
    TOOLS[tool.name] = tool
    return tool


class ToolError(ValueError):
    """A tool was called wrongly; the message is shown to the agent as its observation."""


TOOL_FAILURE = "Tool error:"
MAX_OUTPUT_CHARS = 2000  # a longer output is garbage for a model whose whole context is 1,024 tokens


def call_tool(name: str, arguments: dict, tools: dict[str, Tool] = TOOLS) -> str:
    """Run a tool by name from `tools` (default: the shared registry). Returns its output, 'Error: ...' for
    any misuse, or 'Tool error: ...' if the tool failed (never raises)."""
    tool = tools.get(name)
    if tool is None:
        return f"Error: unknown tool {name[:40]!r}. Known tools: {', '.join(sorted(tools))}."
    if not isinstance(arguments, dict):
        return "Error: arguments must be a JSON object."
    missing = [a for a in tool.parameters if a not in arguments]
    extra = [a for a in arguments if a not in tool.parameters]
    if missing or extra:
        return f"Error: {name} takes ({', '.join(tool.parameters)}); missing {missing}, unexpected {extra}."
    for arg, (typ, _) in tool.parameters.items():
        if type(arguments[arg]) is not typ:  # exact type: JSON true is not the integer 1
            return f"Error: argument {arg!r} of {name} must be {typ.__name__}."
    try:
        output = _run(tool, arguments)
    except ToolError as e:
        return f"Error: {e}"
    except TimeoutError:
        return f"{TOOL_FAILURE} {name} did not answer within {tool.timeout:g} s."
    except Exception as e:  # noqa: BLE001 - any bug in a tool becomes an observation, never a crashed episode
        return f"{TOOL_FAILURE} {name} failed ({type(e).__name__}: {str(e)[:80]})."
    if not isinstance(output, str):
        return f"{TOOL_FAILURE} {name} returned {type(output).__name__}, not text."
    if len(output) > MAX_OUTPUT_CHARS:
        return f"{TOOL_FAILURE} {name} returned {len(output)} characters, more than {MAX_OUTPUT_CHARS}."
    return output


def _run(tool: Tool, arguments: dict):
    """The tool's result; with a timeout, the call runs in a daemon thread that is abandoned if it is late
    (Python cannot stop a thread, but the episode need not wait for it)."""
    if tool.timeout is None:
        return tool.function(**arguments)
    outcome: dict = {}

    def target():
        try:
            outcome["output"] = tool.function(**arguments)
        except Exception as e:  # noqa: BLE001 - re-raised in the caller's thread below
            outcome["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(tool.timeout)
    if thread.is_alive():
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    return outcome["output"]


# --- calc: arithmetic without eval() -------------------------------------------------------------
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
MAX_EXPR_CHARS = 64
MAX_ABS_VALUE = 10**12  # bigger intermediate results are refused, so `9**9**9` cannot hang the agent


def _evaluate(node: ast.AST) -> int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        value = node.value
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = -_evaluate(node.operand) if isinstance(node.op, ast.USub) else _evaluate(node.operand)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
            raise ToolError("division by zero")
        value = _BINARY[type(node.op)](left, right)
    else:
        raise ToolError("only integers, + - * // % and parentheses are allowed")
    if abs(value) > MAX_ABS_VALUE:
        raise ToolError("number too large")
    return value


def calculate(expr: str) -> str:
    """Evaluate integer arithmetic: + - * // % and parentheses ('/' is read as '//')."""
    if len(expr) > MAX_EXPR_CHARS:
        raise ToolError(f"expression longer than {MAX_EXPR_CHARS} characters")
    try:
        with warnings.catch_warnings():   # "3if" parses with a SyntaxWarning printed into the notebook: refuse it
            warnings.simplefilter("error", SyntaxWarning)
            tree = ast.parse(expr.replace("//", "/").replace("/", "//"), mode="eval")
    except (SyntaxError, SyntaxWarning, ValueError):
        raise ToolError(f"cannot parse {expr!r}") from None
    return str(_evaluate(tree))


CALC = register_tool(Tool("calc", "Evaluate an arithmetic expression.",
                          {"expr": (str, "integer arithmetic, e.g. 12*(3+4)")}, calculate))


# --- search: look up the tiny world's notes ------------------------------------------------------
SEARCH = register_tool(Tool("search", "Find the note about a name.",
                            {"query": (str, "a country or person name")}, world.search))


# --- lookup: one field of the world's fact table --------------------------------------------------
# A different kind of tool from calc (knowledge, not computation) and from search (a key into a table,
# not free text): with both calc and lookup on offer, an agent has to pick the one a task needs.
def look_up(name: str, field: str) -> str:
    """The value of one field of a country or a person, by exact name (any case)."""
    entry = world.fact_table().get(name.strip().lower())
    if entry is None:
        raise ToolError(f"no country or person named {name[:40]!r}")
    if field not in entry:
        raise ToolError(f"{name[:40]} has the fields {', '.join(entry)}")
    return entry[field]


LOOKUP = register_tool(Tool("lookup", "Look up one fact about a country or a person.",
                            {"name": (str, "a country or person name"),
                             "field": (str, "country: capital, river, language, founded; "
                                            "person: country, job, born_in, born")}, look_up))
