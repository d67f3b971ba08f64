"""What a Python (or Perl) snippet does to the file system: deletes, writes, moves, the shell
commands it runs and the text it prints. Used for `python3 -c`, here-documents fed to python,
and scripts whose text the command shows (`printf '...' > /tmp/x.py && python3 /tmp/x.py`).

Paths are resolved statically: string literals, names bound to literals, `for p in [...]` loops
and comprehensions, `glob`/`rglob`/`listdir` patterns. When a deletion's target is computed, the
path-like string literals of the snippet stand in for it (so a script that loops over a list of
names still names its victims); when there are none the op is `unresolved`.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field


@dataclass
class PyOp:
    op: str                       # delete | write | move | shell | argv | print
    paths: list[str] = field(default_factory=list)   # literal paths or globs ([] = unresolved)
    dest: list[str] = field(default_factory=list)    # move/copy destination
    content: str | None = None    # text written, when literal
    mode: str = "w"               # w | a (writes)
    argv: list[str] = field(default_factory=list)
    text: str = ""                # shell string, printed text
    guessed: bool = False         # paths stand in for a computed target
    recursive: bool = False


_DELETE_FUNCS = {"rmtree", "remove", "unlink", "rmdir", "removedirs", "send2trash", "rm"}
_SHELL_FUNCS = {"system", "popen", "getoutput", "getstatusoutput"}
_PROC_FUNCS = {"run", "call", "check_call", "check_output", "Popen", "spawn"}
_COPY_FUNCS = {"copy", "copy2", "copyfile", "copytree"}
_MOVE_FUNCS = {"move", "rename", "replace", "renames"}
_NOT_PATHS = {"", ".", "./", "r", "w", "a", "rb", "wb", "ab", "r+", "w+", "a+", "utf-8", "utf8",
              "ascii", "\n", " ", ",", ":", "*"}


def analyse_python(code: str) -> tuple[list[PyOp], str | None]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        return _regex_python(code), f"python: {type(exc).__name__}: {exc}"
    return _Visitor(tree).ops, None


class _Visitor:
    def __init__(self, tree: ast.Module):
        self.env: dict[str, list[str]] = {}
        self.ops: list[PyOp] = []
        self.literals = _path_literals(tree)
        attach_write_literals(tree)
        self._bind_all(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)

    # -- name bindings --------------------------------------------------------------------------
    def _bind_all(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                vals = self._values(node.value)
                if vals is not None:
                    self.env[node.targets[0].id] = vals
            elif isinstance(node, (ast.For, ast.comprehension)):
                target = node.target
                if isinstance(target, ast.Name):
                    vals = self._iter_values(node.iter)
                    if vals is not None:
                        self.env[target.id] = vals

    def _iter_values(self, node: ast.expr) -> list[str] | None:
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            out: list[str] = []
            for elt in node.elts:
                v = self._values(elt)
                if v is None:
                    return None
                out.extend(v)
            return out
        if isinstance(node, ast.Call):
            name = _func_name(node.func)
            args = [self._values(a) for a in node.args]
            base = None  # the receiver of Path(X).glob(...)
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
                recv = node.func.value
                base = (self._values(recv.args[0]) if recv.args else ["."]) or None
            if name in ("glob", "iglob") and args and args[0]:
                return [_join(base[0], args[0][0])] if base else args[0]
            if name == "rglob" and args and args[0]:
                return [_join((base or ["."])[0], "**/" + args[0][0])]
            if name == "listdir":
                return ["*"]  # bare names: joined with their directory by the caller, or relative to cwd
            if name in ("scandir", "iterdir"):
                root = (args[0] if args and args[0] else None) or base or ["."]
                return [_join(root[0], "*")]
            if name == "walk":
                root = args[0] if args and args[0] else ["."]
                return [_join(root[0], "**")]
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        return None

    def _values(self, node: ast.expr) -> list[str] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                elif isinstance(v, ast.FormattedValue):
                    inner = self._values(v.value)
                    if inner is None or len(inner) != 1:
                        return None
                    parts.append(inner[0])
            return ["".join(parts)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Div)):
            left, right = self._values(node.left), self._values(node.right)
            if left and right and len(left) == 1 and len(right) == 1:
                sep = "/" if isinstance(node.op, ast.Div) else ""
                return [left[0] + sep + right[0]]
            return None
        if isinstance(node, ast.Call):
            name = _func_name(node.func)
            if name in ("Path", "PurePath", "PosixPath", "abspath", "realpath", "expanduser", "str",
                        "normpath", "fspath"):
                if not node.args:
                    return ["."]
                return self._values(node.args[0])
            if name == "join":
                vals = [self._values(a) for a in node.args]
                if vals and all(v and len(v) == 1 for v in vals):
                    return ["/".join(v[0] for v in vals)]
            if name in ("getcwd", "cwd"):
                return ["."]
            if name == "home":
                return ["~"]
        if isinstance(node, (ast.List, ast.Tuple)):
            return self._iter_values(node)
        return None

    # -- calls ------------------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> None:
        name = _func_name(node.func)
        recv = node.func.value if isinstance(node.func, ast.Attribute) else None
        path_method = recv is not None and isinstance(recv, (ast.Call, ast.Name)) and \
            not (isinstance(recv, ast.Name) and recv.id in ("os", "shutil", "subprocess", "sys", "pathlib"))
        if name in _DELETE_FUNCS:
            target = node.args[0] if node.args else (recv if path_method else None)
            if name in ("unlink", "rmdir") and path_method and not node.args:
                target = recv
            self._delete(target, recursive=name in ("rmtree", "removedirs"))
        elif name in ("write_text", "write_bytes") and path_method:
            content = self._values(node.args[0]) if node.args else None
            self._write(recv, content[0] if content and len(content) == 1 else None, "w")
        elif name == "open" and node.args:
            mode = "r"
            if len(node.args) > 1:
                m = self._values(node.args[1])
                mode = m[0] if m else "w"
            for kw in node.keywords:
                if kw.arg == "mode":
                    m = self._values(kw.value)
                    mode = m[0] if m else "w"
            if any(c in mode for c in "wax+"):
                self._write(node.args[0], self._written_literal(node), "a" if "a" in mode else "w")
        elif name in _COPY_FUNCS and len(node.args) >= 2:
            self.ops.append(PyOp("write", self._values(node.args[1]) or [], content=None,
                                 dest=self._values(node.args[0]) or [], recursive=name == "copytree"))
        elif name in _MOVE_FUNCS and len(node.args) >= 2 and (recv is None or not path_method):
            self.ops.append(PyOp("move", self._values(node.args[0]) or [],
                                 dest=self._values(node.args[1]) or []))
        elif name in _SHELL_FUNCS and node.args:
            vals = self._values(node.args[0])
            if vals:
                self.ops.append(PyOp("shell", text=vals[0]))
        elif name in _PROC_FUNCS and node.args:
            arg = node.args[0]
            shell = any(kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value
                        for kw in node.keywords)
            if isinstance(arg, (ast.List, ast.Tuple)):
                words = [self._values(e) for e in arg.elts]
                if all(w and len(w) == 1 for w in words):
                    self.ops.append(PyOp("argv", argv=[w[0] for w in words]))
            else:
                vals = self._values(arg)
                if vals:
                    self.ops.append(PyOp("shell" if shell or " " in vals[0] else "argv", text=vals[0],
                                         argv=[vals[0]]))
        elif name == "print" or (name == "write" and isinstance(recv, ast.Attribute) and recv.attr == "stdout"):
            texts = [self._values(a) for a in node.args]
            self.ops.append(PyOp("print", text=" ".join(t[0] for t in texts if t and len(t) == 1)))

    @staticmethod
    def _written_literal(open_call: ast.Call) -> str | None:
        """The literal in `open(p, 'w').write('...')`; None when not literal."""
        return getattr(open_call, "_write_parent", None)

    def _delete(self, target: ast.expr | None, recursive: bool) -> None:
        vals = self._values(target) if target is not None else None
        if vals:
            self.ops.append(PyOp("delete", vals, recursive=recursive))
        else:
            self.ops.append(PyOp("delete", list(self.literals), guessed=True, recursive=recursive))

    def _write(self, target: ast.expr, content: str | None, mode: str) -> None:
        vals = self._values(target)
        self.ops.append(PyOp("write", vals or [], content=content, mode=mode, guessed=not vals))


def _func_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _join(base: str, rest: str) -> str:
    if rest.startswith("/"):
        return rest
    return rest if base in (".", "./", "") else base.rstrip("/") + "/" + rest


def _path_literals(tree: ast.Module) -> list[str]:
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            v = node.value
            if v in _NOT_PATHS or "\n" in v or len(v) > 200 or " " in v.strip() or v.startswith("-"):
                continue
            if re.fullmatch(r"[\w./~*?\[\]{}@+-]+", v) and not re.fullmatch(r"\d+", v):
                out.append(v)
    return out


def attach_write_literals(tree: ast.Module) -> None:
    """Mark `open(p, 'w').write(LITERAL)` so the writer knows the literal content."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "write" \
                and isinstance(node.func.value, ast.Call) and _func_name(node.func.value.func) == "open" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            node.func.value._write_parent = node.args[0].value  # type: ignore[attr-defined]


# -- fallbacks ------------------------------------------------------------------------------------
_RX_DELETE = re.compile(r"\b(rmtree|remove|unlink|rmdir|removedirs)\s*\(\s*(?:r?['\"]([^'\"]+)['\"])?")
_RX_SHELL = re.compile(r"\b(system|popen|getoutput)\s*\(\s*['\"]([^'\"]+)['\"]")
_RX_OPEN_W = re.compile(r"\bopen\s*\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([wa])")
_RX_PRINT = re.compile(r"\bprint\s*\(\s*['\"]([^'\"]*)['\"]")


def _regex_python(code: str) -> list[PyOp]:
    ops: list[PyOp] = []
    literals = [m for m in re.findall(r"['\"]([\w./~*-]+)['\"]", code) if m not in _NOT_PATHS]
    for m in _RX_DELETE.finditer(code):
        if m.group(2):
            ops.append(PyOp("delete", [m.group(2)], recursive=m.group(1) == "rmtree"))
        else:
            ops.append(PyOp("delete", literals, guessed=True, recursive=m.group(1) == "rmtree"))
    for m in _RX_SHELL.finditer(code):
        ops.append(PyOp("shell", text=m.group(2)))
    for m in _RX_OPEN_W.finditer(code):
        ops.append(PyOp("write", [m.group(1)], mode=m.group(2)))
    for m in _RX_PRINT.finditer(code):
        ops.append(PyOp("print", text=m.group(1)))
    return ops


_PERL_DELETE = re.compile(r"\b(unlink|rmtree|remove_tree|rmdir)\b\s*\(?\s*(?:glob\s*\(?\s*)?['\"]([^'\"]+)['\"]")
_PERL_SHELL = re.compile(r"\b(system|exec)\s*\(?\s*['\"]([^'\"]+)['\"]|`([^`]+)`|\bqx\{([^}]+)\}")
_PERL_OPEN_W = re.compile(r"\bopen\s*\(?\s*\w+\s*,\s*['\"](>>?)['\"]\s*,\s*['\"]([^'\"]+)['\"]|"
                          r"\bopen\s*\(?\s*\w+\s*,\s*['\"](>>?)\s*([^'\"]+)['\"]")
_PERL_PRINT = re.compile(r"\bprint\s+['\"]([^'\"]*)['\"]")


def analyse_perl(code: str) -> list[PyOp]:
    ops: list[PyOp] = []
    for m in _PERL_DELETE.finditer(code):
        ops.append(PyOp("delete", [m.group(2)], recursive=m.group(1) in ("rmtree", "remove_tree")))
    for m in _PERL_SHELL.finditer(code):
        ops.append(PyOp("shell", text=m.group(2) or m.group(3) or m.group(4)))
    for m in _PERL_OPEN_W.finditer(code):
        mode = m.group(1) or m.group(3)
        path = m.group(2) or m.group(4)
        ops.append(PyOp("write", [path.strip()], mode="a" if mode == ">>" else "w"))
    for m in _PERL_PRINT.finditer(code):
        ops.append(PyOp("print", text=m.group(1)))
    return ops


_OTHER_DELETE = re.compile(r"\b(rmSync|rmdirSync|unlinkSync|rimraf(?:\.sync)?|rm_rf|rm_r|rm_f|remove_dir|"
                           r"remove_entry(?:_secure)?|File\.delete|FileUtils\.rm|fs\.rm|fs\.unlink|"
                           r"fs\.rmdir|remove_dir_all|remove_file)\s*\(?\s*['\"]([^'\"]+)['\"]")


def analyse_other(code: str) -> list[PyOp]:
    """Node, Ruby and similar one-liners: literal deletions only."""
    ops = [PyOp("delete", [m.group(2)], recursive=True) for m in _OTHER_DELETE.finditer(code)]
    for m in re.finditer(r"\b(?:execSync|system|spawnSync|exec)\s*\(\s*['\"]([^'\"]+)['\"]", code):
        ops.append(PyOp("shell", text=m.group(1)))
    return ops
