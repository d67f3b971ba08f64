"""Function blocks under the shell protocol: a ```python block that holds only complete function
or class definitions, each replacing a definition of the same name in one of the repository's
shown code files. Small models answer "fix this function" with the function alone, every step;
written whole it would wipe the rest of the file, so the protocol used to run nothing. Here it is
spliced in: the step runs a short Python program in the sandbox that reads the file as it is
*now*, replaces each named definition (decorators included, re-indented for a method) and
writes the file back, or changes nothing and says which name it did not find. The program is the
step's command, so the log shows exactly what was run for the agent.
"""
from __future__ import annotations

import ast
import textwrap

DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# Runs in the sandbox (plain python3, nothing of the harness installed there).
PROGRAM = '''import ast, sys
path, new = {path!r}, {new!r}
src = open(path, encoding="utf-8").read()
lines = src.splitlines(keepends=True)
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
top = {{n.name: n for n in ast.parse(src).body if isinstance(n, DEFS)}}
methods = {{}}
for c in top.values():
    if isinstance(c, ast.ClassDef):
        for m in c.body:
            if isinstance(m, DEFS):
                methods.setdefault(m.name, []).append(m)
edits = []
for d in ast.parse(new).body:
    old = top.get(d.name) or (methods.get(d.name, [None])[0] if len(methods.get(d.name, [])) == 1 else None)
    if old is None:
        sys.exit(f"{{path}}: no single definition of {{d.name}} to replace; nothing changed")
    first = min([old.lineno] + [x.lineno for x in old.decorator_list]) - 1
    text = "".join(new.splitlines(keepends=True)[min([d.lineno] + [x.lineno for x in d.decorator_list]) - 1:d.end_lineno])
    pad = " " * old.col_offset
    text = "".join(pad + ln if ln.strip() else ln for ln in text.splitlines(keepends=True))
    edits.append((first, old.end_lineno, text if text.endswith("\\n") else text + "\\n", d.name))
for first, end, text, name in sorted(edits, reverse=True):
    lines[first:end] = [text]
    print(f"{{path}}: replaced {{name}} (lines {{first + 1}}-{{end}})")
open(path, "w", encoding="utf-8").write("".join(lines))
'''


def definitions(code: str) -> list[str] | None:
    """The names a block defines when it is nothing but complete definitions (a method may come
    indented, as it stands in its class); None when it is anything else."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return None
    if not tree.body or not all(isinstance(n, DEFS) for n in tree.body):
        return None
    names = [n.name for n in tree.body]
    return names if len(set(names)) == len(names) else None


def replaceable(source: str, names: list[str]) -> bool:
    """Every name is a top-level definition of the file, or a method of exactly one of its classes."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    top = {n.name for n in body if isinstance(n, DEFS)}
    methods: dict[str, int] = {}
    for c in body:
        if isinstance(c, ast.ClassDef):
            for m in c.body:
                if isinstance(m, DEFS):
                    methods[m.name] = methods.get(m.name, 0) + 1
    return all(n in top or methods.get(n) == 1 for n in names)


def command(path: str, code: str) -> str:
    """The step's command: the splicing program, given the file and the dedented block."""
    program = PROGRAM.format(path=path, new=textwrap.dedent(code))
    delim = next(d for d in ("EOF", *(f"EOF_{i}" for i in range(1, 1000))) if d not in program.splitlines())
    return f"python3 - <<'{delim}'\n{program.rstrip()}\n{delim}"
