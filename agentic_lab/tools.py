"""Tools an agent can call. Each tool is declared once: name, description, typed arguments, function.

`Tool.schema()` gives the JSON schema that `tokenizer.apply_chat_template(messages, tools=[...])`
renders into the prompt; `call_tool(name, arguments)` runs it. A tool never raises on bad input:
it returns an error string, because in an agent loop an error is just another observation.
"""
from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from typing import Callable

from agentic_lab import world


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, tuple[type, str]]  # argument name -> (python type, description)
    function: Callable[..., str]

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


def call_tool(name: str, arguments: dict, tools: dict[str, Tool] = TOOLS) -> str:
    """Run a tool by name from `tools` (default: the shared registry). Returns its output, or
    'Error: ...' for any misuse (never raises)."""
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
        return tool.function(**arguments)
    except ToolError as e:
        return f"Error: {e}"


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
        tree = ast.parse(expr.replace("//", "/").replace("/", "//"), mode="eval")
    except (SyntaxError, ValueError):
        raise ToolError(f"cannot parse {expr!r}") from None
    return str(_evaluate(tree))


CALC = register_tool(Tool("calc", "Evaluate an arithmetic expression.",
                          {"expr": (str, "integer arithmetic, e.g. 12*(3+4)")}, calculate))


# --- search: look up the tiny world's notes ------------------------------------------------------
SEARCH = register_tool(Tool("search", "Find the note about a name.",
                            {"query": (str, "a country or person name")}, world.search))
