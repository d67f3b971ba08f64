"""What shell text prints or inserts: echo/printf output, sed replacement text, patch contents."""
from __future__ import annotations

import re

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "a": "\a", "0": "\0"}


def echo_text(args: list[str]) -> str:
    newline, interpret = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        interpret = interpret or "e" in args[0]
        args = args[1:]
    text = " ".join(args)
    if interpret:
        text = unescape(text)
    return text + ("\n" if newline else "")


def printf_text(args: list[str]) -> str:
    if not args:
        return ""
    if args[0] == "-v":
        return ""
    fmt, rest = unescape(args[0]), list(args[1:])
    def sub(m: re.Match) -> str:
        if m.group(0) == "%%":
            return "%"
        return rest.pop(0) if rest else ""
    try:
        return re.sub(r"%%|%[-+ 0#]*\d*(?:\.\d+)?[sdibqcxXfeEgG]", sub, fmt)
    except Exception:
        return fmt


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def sed_text(script: str) -> str:
    """The text a sed (or perl -pe) script inserts: `s/a/b/` replacements and i/a/c lines."""
    out: list[str] = []
    for m in re.finditer(r"s(.)(?:\\.|(?!\1).)*\1((?:\\.|(?!\1).)*)\1", script):
        out.append(m.group(2).replace("\\" + m.group(1), m.group(1)))
    for m in re.finditer(r"(?:^|;|\n)\s*(?:\d+|\$|/[^/]*/)?\s*[iac]\\?\s*(.+)", script):
        out.append(m.group(1))
    return unescape("\n".join(out))


def patch_files(body: str) -> list[tuple[str, bool, str]]:
    """(path, deleted, added text) per file of a unified diff."""
    out = []
    cur_old = cur_new = None
    added: list[str] = []
    def flush():
        if cur_old is None and cur_new is None:
            return
        deleted = cur_new == "/dev/null"
        path = cur_old if deleted else cur_new
        if path:
            out.append((re.sub(r"^[ab]/", "", path), deleted, "\n".join(added)))
    for line in body.splitlines():
        if line.startswith("--- "):
            flush()
            cur_old, cur_new, added = line[4:].split("\t")[0].strip(), None, []
        elif line.startswith("+++ "):
            cur_new = line[4:].split("\t")[0].strip()
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    flush()
    return out


def string_literals(code: str) -> list[str]:
    import ast
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return re.findall(r"['\"]([^'\"]{2,})['\"]", code)
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def trivial_content(text: str) -> bool:
    """Content that leaves a Python source file with nothing in it: blank, comments only, a lone
    docstring or `pass`."""
    import ast
    if not text.strip():
        return True
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return all(ln.startswith("#") for ln in lines)
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.Pass):
            continue
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                and isinstance(stmt.value.value, str):
            continue
        return False
    return True


def shell_quote(word: str) -> str:
    if re.fullmatch(r"[\w./{}@%+=:,*?\[\]~-]+", word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"
