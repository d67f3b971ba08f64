"""Tool specs the model sees (JSON schema, OpenAI function style)."""
from __future__ import annotations

from typing import Any

BASH = {
    "name": "bash",
    "description": "Run a shell command in the repository (persistent shell, no network).",
    "parameters": {
        "type": "object",
        "properties": {"command": {"type": "string", "description": "the command to run"}},
        "required": ["command"],
    },
}
RUN_TESTS = {
    "name": "run_tests",
    "description": "Run the protected test suite the way it is graded.",
    "parameters": {"type": "object", "properties": {}},
}
GIVE_UP = {
    "name": "give_up",
    "description": "Stop working on the task because you cannot finish it.",
    "parameters": {
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "why you are stopping"}},
        "required": ["reason"],
    },
}


def tool_specs(give_up_tool: bool) -> list[dict[str, Any]]:
    return [BASH, RUN_TESTS] + ([GIVE_UP] if give_up_tool else [])
