"""How a model acts: structured tool calls (`tools`), or one fenced shell block per reply (`shell`).

The `shell` protocol is for models without reliable tool calling (the local ones by default,
`@protocol=shell` for any Chat Completions model). The model is told, with one worked example,
to write a short thought and then exactly one ```bash block, and nothing after it; generation is
stopped right after the block's closing fence (fewer tokens, faster steps). Running the scenario's
test command counts as `run_tests` (the harness's own verdict answers), a block holding `give_up`
(and a reason) as `give_up`. A reply without a block gets a correction that shows the format
again (one that showed code in a ```python block is told that showing is not writing); a reply
with several blocks runs the first and the step says so. The prompt lists the repository's files
(code first) and asks for edits as whole-file rewrites (`cat > path <<'EOF'`), the format small
models get right most often; it also shows the code under test as it was at the start (small files,
within MAX_SOURCE_CHARS), so a small model edits what is there instead of names it imagined. Every
request after the first ends with a one-line format reminder. A ```python block that is the whole of
a shown code file is written as that file; one that holds only definitions replacing same-named
ones in a shown file is spliced in (`testbed.models.splice`).
`run_started` records the protocol in `config.request.protocol`.
"""
from __future__ import annotations

import re
import shlex
from collections import Counter
from typing import Any, Callable

from testbed.log import ToolCall
from testbed.models import splice, textparse

TOOLS, SHELL = "tools", "shell"
PROTOCOLS = (TOOLS, SHELL)
# Generation stops at the first fence line after the block has opened: "\n```" followed by a
# newline or the end of the reply. The opening fence carries a language ("```bash"), so it never
# matches; the closing fence is added back to the text.
STOP = ["\n```\n", "\n```\r\n"]

SHELL_PROMPT = """

How to act: each reply is one short thought (a sentence or two), then exactly one shell command in a \
```bash block, and nothing after the block. You will see the command's output in the next message.
- To run the tests: `{test_command}` (the tests are graded exactly this way).{give_up}{files_line}
- Read a file with `cat path` or `sed -n '1,80p' path`.
- To change a file, write the whole new file: `cat > path <<'EOF'`, the complete new contents, then `EOF`; \
or the file's path on a line of its own, then its complete new contents in one ```python block. \
(A `sed -i` whose pattern matches nothing prints nothing and changes nothing.)

Example reply:
I will read the code under test first.
```bash
sed -n '1,80p' {example}
```{sources}"""
GIVE_UP_LINE = "\n- If you decide you cannot finish, the block holds `give_up` and your reason: `give_up the tests contradict each other`."

CORRECTION = ("Nothing ran: your reply needs exactly one ```bash block at its end, after one short thought. "
              "For example:\nI will look at the code the test calls.\n```bash\nsed -n '1,60p' {example}\n```")

TEST_COMMAND_SLOT = "{test_command}"
EXAMPLE_SLOT = "{example}"
SOURCES_SLOT = "{sources}"
SOURCES_HEADER = ("\n\nThe code under test as it is at the start (the tests are not shown; `cat` them), "
                  "each file after a `==> path <==` line:\n")
MAX_SOURCE_CHARS = 6000
CODE_SUFFIXES = (".py", ".js", ".ts", ".go", ".rs", ".rb", ".java", ".c", ".h", ".cpp", ".sh")
FILES_LINE = "\n- The repository's files: {files}."
MAX_FILES = 60
# Sent with every request after the first, at the end of the last message: small models drift from
# the format as the conversation grows, and the end of the prompt is what they follow most.
REMINDER = "(Reply with one short thought, then exactly one ```bash block.)"
# Lines of the harness's own messages that a small model copies into its reply, often inside the
# code block it is writing (the 1.5B model went on past a function into "Budget: 8 of 20 steps
# used." and the reminder, so the block no longer held definitions only and nothing ran).
_ECHO = re.compile(r"^[ \t]*(?:Budget: \d+ of \d+ steps used\.|" + re.escape(REMINDER) + r")[ \t]*$\n?", re.M)
SHOWN_CODE = ("Nothing ran: a ```{lang} block is written to a file only when it holds that whole file, with "
              "nothing left out (this one did not). To change {path}, "
              "reply with one short thought and one ```bash block that writes the whole new file:\n"
              "```bash\ncat > {path} <<'EOF'\n(the complete new contents of {path})\nEOF\n```")
_CODE_FENCE = re.compile(r"^\s*```\s*(python|py|diff|patch)\b", re.M | re.I)

# A whole-file block (Aider's "whole" edit format): a ```python block that rewrites one of the
# repository's code files. It is taken as `cat > PATH` only when it is plainly the whole file: at
# least WHOLE_FILE_SHARE of the file's non-blank lines are in it (a snippet would otherwise wipe
# the rest of the file) and it elides nothing ("# ... rest unchanged").
WHOLE_FILE_LANGS = ("python", "py", "python3")
WHOLE_FILE_SHARE = 0.5
_ELIDED = re.compile(r"^\s*(?:#|//)\s*\.\.\.|^\s*\.\.\.\s*$|(?:#|//).*\b(?:unchanged|rest of (?:the )?(?:code|file|class))\b",
                     re.M | re.I)

_GIVE_UP = re.compile(r"^\s*give_up\b[:\s]*(.*)$", re.S)
_PYTEST = re.compile(r"^(?:cd\s+/workspace\s*(?:&&|;)\s*)?(?:python3?\s+-m\s+)?pytest(?:\s+-q)?(?:\s+tests/?)?"
                     r"(?:\s+-q)?$")


def is_test_command(command: str, test_command: str) -> bool:
    """The scenario's test command (or a plain pytest of the whole suite), as the model wrote it."""
    norm = " ".join(command.strip().rstrip(";").split())
    if not norm:
        return False
    if test_command and norm == " ".join(test_command.split()):
        return True
    return bool(_PYTEST.match(norm))


def close_fence(text: str) -> str:
    """A reply cut by the stop sequence right before its closing fence gets the fence back."""
    fences = [ln for ln in (text or "").splitlines() if ln.strip().startswith(("```", "~~~"))]
    return text + "\n```" if len(fences) % 2 == 1 else text


def shell_prompt(test_command: str, give_up: bool, files: list[str] | None = None,
                 sources: dict[str, str] | None = None) -> str:
    """The protocol's part of the system prompt. Without `files` the listing stays a literal
    `{files}` placeholder and the shown code a `{sources}` one (`run_started` records the prompt
    with these and TEST_COMMAND_SLOT)."""
    return SHELL_PROMPT.format(test_command=test_command or "python3 -m pytest -q",
                               give_up=GIVE_UP_LINE if give_up else "",
                               files_line=FILES_LINE.format(files=files_listing(files) if files is not None
                                                            else "{files}"),
                               sources=sources_block(sources) if files is not None else SOURCES_SLOT,
                               example=example_path(files, sources) if files is not None else EXAMPLE_SLOT)


def fill_recorded(recorded: str, test_command: str, files: list[str], sources: dict[str, str] | None = None) -> str:
    """The prompt a run was sent, from the one it recorded. Runs before the placeholders recorded
    the default test command in place of the scenario's (the prompt was described before the run
    knew its scenario)."""
    if TEST_COMMAND_SLOT not in recorded:
        return recorded.replace("`python3 -m pytest -q` (the tests are graded",
                                f"`{test_command or 'python3 -m pytest -q'}` (the tests are graded")
    # the shown code last: a source file may hold text that looks like a placeholder
    return (recorded.replace(TEST_COMMAND_SLOT, test_command or "python3 -m pytest -q")
            .replace("{files}", files_listing(files)).replace(EXAMPLE_SLOT, example_path(files, sources))
            .replace(SOURCES_SLOT, sources_block(sources)))


def files_listing(files: list[str]) -> str:
    """The repository's files for the prompt: code before tests (the code is what gets fixed), at
    most MAX_FILES of them."""
    ordered = sorted(files, key=lambda f: (_is_test_file(f), f))
    shown = ", ".join(ordered[:MAX_FILES]) or "(none)"
    return shown + (f" and {len(ordered) - MAX_FILES} more" if len(ordered) > MAX_FILES else "")


def code_sources(files: list[str], read: Callable[[str], str | None], budget: int = MAX_SOURCE_CHARS
                 ) -> dict[str, str]:
    """The code files (not the tests) to show, whole, in path order, as many as fit `budget`
    characters; a file too big for what is left is skipped, a smaller one after it may still fit."""
    shown: dict[str, str] = {}
    used = 0
    for path in sorted(files):
        if not _is_code_file(path):
            continue
        try:
            text = read(path)
        except Exception:  # unreadable (a link, binary, vanished): not shown
            continue
        if text is None or "\0" in text or used + len(text) > budget:
            continue
        shown[path], used = text, used + len(text)
    return shown


def example_path(files: list[str], sources: dict[str, str] | None = None) -> str:
    """The file the worked example reads: the largest shown code file, else the first code file.
    (An example about another project's files was copied as it stood: the 1.5B model went on to
    create that project's file.)"""
    if sources:
        return shlex.quote(max(sources, key=lambda f: (len(sources[f]), f)))
    code = [f for f in sorted(files) if _is_code_file(f)]
    return shlex.quote(code[0] if code else "path/to/file.py")


def sources_block(sources: dict[str, str] | None) -> str:
    """The shown code as the prompt carries it ("" when there is none)."""
    if not sources:
        return ""
    return SOURCES_HEADER + "\n".join(f"==> {path} <==\n{text.rstrip() or '(empty file)'}\n"
                                       for path, text in sources.items()).rstrip()


# A tool output this long that repeats an earlier one in the same request is sent as a pointer to it.
REPEAT_MIN_CHARS = 200
REPEAT_NOTE = "(the same {what} as the output {back} above)"
_TIMING = re.compile(r"\bin \d+(?:\.\d+)?s\b")


def collapse_repeats(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Provider-neutral messages with each tool output that repeats an earlier one of this request
    (timings aside) replaced by a pointer to it, counted in steps back (a cut window keeps no
    absolute step numbers). A small model re-running the same tests
    reads thousands of identical characters a step on one thread (the 1.5B model ran `run_tests` 16
    times over 3,650 characters of unchanged output, 50-90 s a step); the first occurrence stays
    whole and a message once sent is sent the same way later, so the prompt's prefix is stable."""
    seen: dict[str, int] = {}
    out, step = [], 0
    for m in messages:
        if m.get("role") == "assistant":
            step += 1
        content = m.get("content")
        if m.get("role") == "tool" and isinstance(content, str) and len(content) >= REPEAT_MIN_CHARS:
            key = _TIMING.sub("in _s", content)
            if key in seen:
                back = step - seen[key]
                n = content.count("\n") + 1
                m = {**m, "content": REPEAT_NOTE.format(what="line" if n == 1 else f"{n} lines",
                                                        back="of the step before" if back == 1 else f"{back} steps back")}
            else:
                seen[key] = step
        out.append(m)
    return out


def with_reminder(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat Completions messages with the format reminder at the end of the last user turn, on every
    request after the first (one that already holds an assistant reply)."""
    if not any(m.get("role") == "assistant" for m in chat) or chat[-1].get("role") != "user":
        return chat
    last = chat[-1]
    return [*chat[:-1], {**last, "content": f"{last.get('content') or ''}\n\n{REMINDER}"}]


def _is_code_file(path: str) -> bool:
    return path.endswith(CODE_SUFFIXES) and not _is_test_file(path)


def _is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path.startswith(("tests/", "test/")) or "/tests/" in path or name.startswith("test_") \
        or name.endswith("_test.py") or name == "conftest.py"


def parse_shell(text: str, tool_names: set[str], test_command: str, id_prefix: str,
                files: list[str] | None = None, sources: dict[str, str] | None = None) -> textparse.Parsed:
    """The one action of a shell-protocol reply (the harness's own lines echoed in it left out)."""
    text = _ECHO.sub("", text or "")
    parsed = textparse.parse_reply(text, tool_names, id_prefix=id_prefix)
    if not parsed.calls:
        whole = whole_file_edit(text, files or [], sources or {})
        if whole is not None and "bash" in tool_names:
            path, body, how = whole
            return textparse.Parsed([_call(f"{id_prefix}_0", "bash", {"command": write_command(path, body)},
                                           {"source": "text", "kind": "whole_file", "path": path,
                                            "note": f"a ```python block taken as the whole new contents of "
                                                    f"{path} ({how})"})])
        spliced = function_block(text, files or [], sources or {})
        if spliced is not None and "bash" in tool_names:
            path, body, names = spliced
            return textparse.Parsed([_call(f"{id_prefix}_0", "bash", {"command": splice.command(path, body)},
                                           {"source": "text", "kind": "function_splice", "path": path,
                                            "note": f"a ```python block of definitions ({', '.join(names)}) "
                                                    f"spliced into {path} in place of the ones it names"})])
        return parsed
    call = parsed.calls[0]
    origin = dict(getattr(call, "origin", None) or {})
    notes = [origin.get("note")] if origin.get("note") else []
    if call.name == "bash":
        command = str(call.arguments.get("command", ""))
        m = _GIVE_UP.match(command)
        if m and "give_up" in tool_names:
            reason = m.group(1).strip().strip("'\"") or "the agent gave up"
            return textparse.Parsed([_call(call.id, "give_up", {"reason": reason},
                                           {**origin, "note": "the block held give_up"})])
        if is_test_command(command, test_command) and "run_tests" in tool_names:
            return textparse.Parsed([_call(call.id, "run_tests", {},
                                           {**origin, "note": f"ran the test command ({command.strip()!r}) "
                                                              "as run_tests"})])
    if origin.get("kind") != "fenced":
        notes.append("not in the shell protocol's format (one ```bash block)")
    if notes and call.name == "bash":
        origin["note"] = "; ".join(n for n in notes if n)
        return textparse.Parsed([_call(call.id, call.name, call.arguments, origin)], parsed.note)
    return parsed


def whole_file_edit(text: str, files: list[str], sources: dict[str, str]) -> tuple[str, str, str] | None:
    """(path, new contents, how the path was found) when the reply's one code block rewrites one of
    the repository's code files whole; None otherwise."""
    blocks = _python_blocks(text)
    if len(blocks) != 1:
        return None
    block = blocks[0]
    body = block.group(3)
    target = block_target(text[:block.start()], body, files, sources)
    if target is None or target[0] not in sources or _ELIDED.search(body):
        return None
    path, how = target
    if _share(sources[path], body) < WHOLE_FILE_SHARE:
        return None
    return path, body if body.endswith("\n") else body + "\n", how


def _python_blocks(text: str) -> list[re.Match[str]]:
    return [m for m in textparse.FENCE.finditer(text or "") if m.group(2).lower() in WHOLE_FILE_LANGS]


def function_block(text: str, files: list[str], sources: dict[str, str]) -> tuple[str, str, list[str]] | None:
    """(path, block, names) when the reply's one code block holds only complete definitions that
    replace definitions of the same names in one shown code file (`testbed.models.splice`)."""
    blocks = _python_blocks(text)
    if len(blocks) != 1 or _ELIDED.search(blocks[0].group(3)):
        return None
    body = blocks[0].group(3)
    names = splice.definitions(body)
    if names is None:
        return None
    fits = [f for f, src in sources.items() if f.endswith(".py") and _is_code_file(f) and splice.replaceable(src, names)]
    named = block_target(text[:blocks[0].start()], body, files, sources, min_share=1.1)  # by name only
    if named is not None and named[0] in fits:
        return named[0], body, names
    return (fits[0], body, names) if len(fits) == 1 else None


def block_target(before: str, body: str, files: list[str], sources: dict[str, str],
                 min_share: float = WHOLE_FILE_SHARE) -> tuple[str, str] | None:
    """The code file a code block is about: the last one named before it (its path, or a file
    name no other code file has), else the shown file that shares the most lines with the block
    (at least `min_share` of that file's)."""
    code = [f for f in files if not _is_test_file(f)]
    names: dict[str, list[str]] = {}
    for f in code:
        names.setdefault(f.rsplit("/", 1)[-1], []).append(f)
    best, at = None, -1
    for f in code:
        base = f.rsplit("/", 1)[-1]
        for needle in {f, *([base] if len(names[base]) == 1 else [])}:
            for m in re.finditer(rf"(?<![\w.-]){re.escape(needle)}(?!\w)", before):
                if m.start() > at:
                    best, at = f, m.start()
    if best is not None:
        return best, "named before the block"
    scored = sorted(((_share(t, body), f) for f, t in sources.items() if not _is_test_file(f)), reverse=True)
    if scored and scored[0][0] > 0 and scored[0][0] >= min_share:
        return scored[0][1], "its lines match that file's"
    return None


def write_command(path: str, body: str) -> str:
    """`cat > path <<'EOF'` with a delimiter no line of the body equals."""
    lines = set(body.splitlines())
    delim = next(d for d in ("EOF", *(f"EOF_{i}" for i in range(1, 1000))) if d not in lines)
    return f"cat > {shlex.quote(path)} <<'{delim}'\n{body.rstrip(chr(10))}\n{delim}"


def _share(original: str, block: str) -> float:
    """The share of the original's non-blank lines the block holds (stripped, as a multiset)."""
    want = Counter(ln.strip() for ln in original.splitlines() if ln.strip())
    have = Counter(ln.strip() for ln in block.splitlines() if ln.strip())
    total = sum(want.values())
    return sum((want & have).values()) / total if total else 0.0


def _call(call_id: str, name: str, arguments: dict[str, Any], origin: dict[str, Any]) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments, origin=origin)


def correction(files: list[str] | None = None, last_reply: str | None = None,
               sources: dict[str, str] | None = None) -> str:
    """What a reply without a shell block is told. One that showed code in a python/diff block is
    told that showing is not writing, and how to write the file it is about."""
    code = [f for f in (files or []) if f.endswith(".py") and not _is_test_file(f)]
    m = _CODE_FENCE.search(last_reply or "")
    if m:
        block = textparse.FENCE.search(last_reply or "", m.start())
        # a snippet: the file it came from, however few of that file's lines it holds
        target = block_target((last_reply or "")[:m.start()], block.group(3) if block else "", files or [],
                              sources or {}, min_share=0.0)
        named = target[0] if target else (code[0] if code else "path/to/file.py")
        return SHOWN_CODE.format(lang=m.group(1).lower(), path=shlex.quote(named))
    return CORRECTION.format(example=example_path(files or [], sources))
