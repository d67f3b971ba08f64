"""Actions written into the reply text, for models that emit tool calls poorly.

Small local models rarely produce structured tool calls. When a reply has none, this module looks
for one in the text, in this order (the first kind found wins):

1. tool-call markup: `<tool_call>{json}</tool_call>` (Qwen, Hermes) and `functions.NAME:{json}`;
2. JSON objects that name a tool (`{"name": "bash", "arguments": {...}}`, `{"command": "..."}`,
   `{"function": {"name", "arguments"}}`), bare or in a ```json / plain fence;
3. the first fenced block that holds shell: ```bash, ```sh, ```shell, ```console (prompts
   stripped), a fence without a language, or ```python whose body is shell rather than Python;
4. unfenced lines that look like shell commands (`$ ls`, `cat intervals/daterange.py`).

Kinds 1 and 2 are explicit calls and all of them run; of kinds 3 and 4 only the first block runs
(one action per turn, as a tool-calling model would take). Each parsed call carries an `origin`
saying which part of the reply it came from; a reply without a usable action gets a note saying
what the parser saw.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from testbed.log import ToolCall

BASH_ALIASES = {"bash", "shell", "sh", "terminal", "execute", "execute_bash", "run_command",
                "run_shell_command", "run_shell", "exec", "cmd", "command", "execute_command"}
SHELL_LANGS = {"bash", "sh", "shell", "console", "zsh", "shell-session", "shellsession", "terminal"}
# Commands that rarely begin an English sentence: one of these at the start of a line is a command.
STRONG_COMMANDS = {
    "ls", "cat", "sed", "grep", "egrep", "awk", "git", "python", "python3", "pytest", "pip", "pip3",
    "cd", "pwd", "mkdir", "rm", "cp", "mv", "chmod", "wc", "nl", "apt-get", "apt", "sudo", "bash",
    "sh", "echo", "printf", "export", "env", "rg", "tree", "stat", "xargs", "perl", "ruby", "node",
    "npm", "npx", "cargo", "go", "pwd", "whoami", "uname", "tox", "unzip", "tar", "curl", "wget",
}
# Commands that are also English words: they count only with a flag or a path argument.
GIT_SUBCOMMANDS = {"status", "diff", "log", "show", "add", "commit", "checkout", "restore", "reset",
                   "stash", "branch", "clean", "rm", "mv", "grep", "blame", "switch", "init", "apply"}
WEAK_COMMANDS = {"find", "make", "test", "sort", "patch", "diff", "touch", "head", "tail", "less",
                 "more", "true", "false", "source", "which", "file", "cut", "tr", "tee", "uniq",
                 "type", "set", "unset", "exit", "read", "time", "kill", "ps", "du", "df"}

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$",
                   re.DOTALL | re.MULTILINE)
TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
FUNCTIONS_PREFIX = re.compile(r"functions\.([A-Za-z_][\w-]*)\s*:\s*")
PROMPT = re.compile(r"^\s*(?:\$|#|>>>|\(\w+\)\s*\$)\s+")


@dataclass
class Parsed:
    calls: list[ToolCall] = field(default_factory=list)
    note: str | None = None  # set when nothing usable was found: what the parser saw


@dataclass
class _Block:
    lang: str
    body: str
    start: int
    end: int


def parse_reply(text: str, tool_names: list[str] | set[str], id_prefix: str = "text") -> Parsed:
    """The actions written into `text` (see the module docstring)."""
    names = set(tool_names)
    text = text or ""
    blocks = [_Block(m.group(2).lower(), m.group(3), m.start(), m.end()) for m in FENCE.finditer(text)]

    calls = _markup_calls(text, names, id_prefix)
    if calls:
        return Parsed(calls)
    calls = _json_calls(text, blocks, names, id_prefix)
    if calls:
        return Parsed(calls)
    seen: list[str] = []
    shell_blocks = []
    for b in blocks:
        kind = _block_kind(b)
        seen.append(kind)
        if kind in ("shell", "python-shell"):
            shell_blocks.append((b, kind))
    if shell_blocks and "bash" in names:
        b, kind = shell_blocks[0]
        command = _strip_prompts(b.body) if b.lang in ("console", "shell-session", "shellsession", "terminal") \
            else b.body.strip("\n")
        origin = {"source": "text", "kind": "fenced", "lang": b.lang or None, "block": 1,
                  "blocks": len(shell_blocks), "span": [b.start, b.end],
                  "note": _which(kind, b.lang, len(shell_blocks))}
        return Parsed([_call(id_prefix, 0, "bash", {"command": command.rstrip()}, origin)])
    outside = _mask(text, [(b.start, b.end) for b in blocks])
    lines = _command_lines(outside)
    if lines and "bash" in names:
        start, end, command = lines
        origin = {"source": "text", "kind": "unfenced", "span": [start, end],
                  "note": "ran the first unfenced command line(s) of the reply"}
        return Parsed([_call(id_prefix, 0, "bash", {"command": command}, origin)])
    return Parsed([], _nothing_note(text, seen))


# -- 1. markup --------------------------------------------------------------------------------------
def _markup_calls(text: str, names: set[str], id_prefix: str) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for m in TOOL_CALL_TAG.finditer(text):
        obj = _first_json(m.group(1))
        call = _call_from_obj(obj, names) if obj is not None else None
        if call:
            name, args = call
            calls.append(_call(id_prefix, len(calls), name, args,
                               {"source": "text", "kind": "tool_call_tag", "span": [m.start(), m.end()],
                                "note": "parsed from a <tool_call> tag in the reply"}))
    for m in FUNCTIONS_PREFIX.finditer(text):
        obj = _first_json(text[m.end():])
        name = _tool_name(m.group(1), names, obj if isinstance(obj, dict) else {})
        if name and isinstance(obj, dict):
            args = obj if name != "bash" or "command" in obj else {}
            if name == "bash" and not _command_of(args):
                continue
            calls.append(_call(id_prefix, len(calls), name, _normal_args(name, args),
                               {"source": "text", "kind": "functions_prefix", "span": [m.start(), m.end()],
                                "note": f"parsed from 'functions.{m.group(1)}:' in the reply"}))
    return calls


# -- 2. JSON objects --------------------------------------------------------------------------------
def _json_calls(text: str, blocks: list[_Block], names: set[str], id_prefix: str) -> list[ToolCall]:
    # JSON inside a shell or code block is data (`echo '{"command": 1}'`), not a call, unless the
    # block holds nothing but that JSON (```bash {"name": "run_tests"} ```).
    masked = _mask(text, [(b.start, b.end) for b in blocks
                          if b.lang not in ("", "json", "json5", "jsonc") and not _only_json(b.body)])
    calls: list[ToolCall] = []
    decoder = json.JSONDecoder(strict=False)
    i = 0
    while True:
        i = masked.find("{", i)
        if i < 0:
            break
        try:
            obj, end = decoder.raw_decode(masked, i)
        except json.JSONDecodeError:
            i += 1
            continue
        found = _call_from_obj(obj, names) if isinstance(obj, dict) else None
        if found:
            name, args = found
            calls.append(_call(id_prefix, len(calls), name, args,
                               {"source": "text", "kind": "json", "span": [i, end],
                                "note": "parsed from a JSON object in the reply"}))
            i = end
        else:
            i += 1
    return calls


def _call_from_obj(obj: Any, names: set[str]) -> tuple[str, dict[str, Any]] | None:
    if isinstance(obj, list):  # a list of calls: take the first usable one
        for item in obj:
            found = _call_from_obj(item, names)
            if found:
                return found
        return None
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    raw_name = obj.get("name") or obj.get("tool") or obj.get("tool_name") or obj.get("action")
    args: Any = obj.get("arguments", obj.get("parameters", obj.get("args", obj.get("input"))))
    if isinstance(args, str):
        try:
            args = json.loads(args, strict=False)
        except json.JSONDecodeError:
            args = {"command": args} if raw_name and _tool_name(str(raw_name), names, {}) == "bash" else None
    if args is None:
        args = {k: v for k, v in obj.items() if k not in ("name", "tool", "tool_name", "action", "type", "id")}
    if not isinstance(args, dict):
        return None
    if raw_name is None:
        if _command_of(args) and "bash" in names:
            return "bash", _normal_args("bash", args)
        return None
    name = _tool_name(str(raw_name), names, args)
    if name is None:
        return None
    args = _normal_args(name, args)
    if name == "bash" and not args.get("command"):
        return None
    return name, args


def _tool_name(raw: str, names: set[str], args: dict[str, Any]) -> str | None:
    key = raw.strip().lower().removeprefix("functions.")
    if key in names:
        return key
    if key in BASH_ALIASES and "bash" in names:
        return "bash"
    return None


def _command_of(args: dict[str, Any]) -> str | None:
    for key in ("command", "cmd", "script", "code"):
        value = args.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = " ".join(value)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _normal_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    if name == "bash":
        command = _command_of(args)
        return {"command": command} if command else {}
    if name == "give_up":
        reason = args.get("reason")
        return {"reason": str(reason)} if reason else {}
    return {}


def _only_json(body: str) -> bool:
    body = body.strip()
    return body[:1] in "{[" and body[-1:] in "}]" and _first_json(body) is not None


def _first_json(text: str) -> Any:
    text = text.strip()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        return json.JSONDecoder(strict=False).raw_decode(text, start)[0]
    except json.JSONDecodeError:
        return None


# -- 3. fenced blocks --------------------------------------------------------------------------------
def _block_kind(b: _Block) -> str:
    body = b.body.strip()
    if not body:
        return "empty"
    if b.lang in SHELL_LANGS:
        return "shell"
    if b.lang in ("", "text", "txt", "plaintext"):
        return "shell" if _looks_like_shell(body) else f"{b.lang or 'plain'} text"
    if b.lang in ("python", "py", "python3"):
        return "python-shell" if _python_is_shell(body) else "python code"
    return f"{b.lang} code"


def _python_is_shell(body: str) -> bool:
    """A ```python block that actually holds shell commands (small models do this)."""
    first = _first_word(body)
    if first in ("python", "python3", "pytest", "pip", "pip3", "git", "ls", "cat", "cd", "sed", "grep"):
        return True
    try:
        ast.parse(body)
    except SyntaxError:
        return _looks_like_shell(body)
    return False


def _looks_like_shell(body: str) -> bool:
    lines = [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return False
    first = PROMPT.sub("", lines[0]).strip()
    return _is_command_line(first)


def _strip_prompts(body: str) -> str:
    """```console blocks: keep the lines after a prompt (`$ cmd`), drop the shown output."""
    lines = body.splitlines()
    prompted = [PROMPT.sub("", ln, count=1) for ln in lines if PROMPT.match(ln)]
    return "\n".join(prompted) if prompted else body.strip("\n")


def _which(kind: str, lang: str, count: int) -> str:
    what = f"```{lang} block" if lang else "fenced block without a language"
    if kind == "python-shell":
        what += " (it holds shell commands, not Python)"
    more = f"; {count - 1} later shell block(s) not run" if count > 1 else ""
    return f"ran the reply's first {what}{more}"


# -- 4. unfenced lines -------------------------------------------------------------------------------
def _command_lines(text: str) -> tuple[int, int, str] | None:
    """The first run of consecutive command-looking lines outside any fence."""
    pos = 0
    found: list[tuple[int, int, str]] = []
    for line in text.splitlines(keepends=True):
        start, pos = pos, pos + len(line)
        stripped = line.strip()
        prompted = bool(PROMPT.match(line)) and stripped[:1] == "$"
        candidate = PROMPT.sub("", line, count=1).strip() if prompted else stripped.strip("`").strip()
        if candidate and (prompted or _is_command_line(candidate, strict=True)):
            found.append((start, pos, candidate))
        elif found:
            break
    if not found:
        return None
    return found[0][0], found[-1][1], "\n".join(c for _, _, c in found)


def _is_command_line(line: str, strict: bool = False) -> bool:
    """Does `line` look like a shell command? `strict` (for lines in prose, outside any fence) asks
    for an argument that only a command would have: a flag, a path, an operator."""
    word = _first_word(line)
    if not word:
        return False
    rest = line[len(word):].strip()
    if word.startswith("./") or word.startswith("/"):
        return True
    if word not in STRONG_COMMANDS and word not in WEAK_COMMANDS:
        return False
    if re.search(r"(^|\s)-{1,2}\w|[\w.]*/[\w.]|\.\w{1,4}\b|[|&;<>]", rest):
        return True
    if word not in STRONG_COMMANDS:
        return False
    if not rest:
        return True
    if word == "git":
        return rest.split()[0] in GIT_SUBCOMMANDS
    # "cat the file." is prose; a short unpunctuated line in a code fence is a command.
    return not strict and not re.search(r"[.!?:]$", line) and len(rest.split()) <= 4


def _first_word(line: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9_./-]+)", line)
    return m.group(1) if m else ""


# -- helpers -----------------------------------------------------------------------------------------
def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the spans blanked out (positions kept)."""
    chars = list(text)
    for start, end in spans:
        for k in range(start, end):
            if chars[k] != "\n":
                chars[k] = " "
    return "".join(chars)


def _call(prefix: str, n: int, name: str, args: dict[str, Any], origin: dict[str, Any]) -> ToolCall:
    return ToolCall(id=f"{prefix}_{n}", name=name, arguments=args, origin=origin)


def _nothing_note(text: str, seen: list[str]) -> str:
    if not text.strip():
        return "empty reply: no tool call and no text"
    if seen:
        shown = ", ".join(seen)
        return f"no tool call; the reply's fenced blocks held no shell command ({shown})"
    return "no tool call, and no JSON call, fenced block or command line in the reply text"
