"""Shell text → the simple commands it runs, in order.

bashlex (a port of bash's own grammar) parses first. It cannot handle `[[ ]]`, `$(( ))`, `case`,
`time` or quoted here-document delimiters, and raises on malformed input; then a tolerant tokenizer
written for this module takes over (it never raises). Both produce the same flat list of `Simple`
commands, each with its words (quotes removed), assignments, redirections and here-document
bodies, whether it runs in a subshell (so `cd`/`exit` do not persist), and the command feeding its
stdin in a pipeline. Loop headers and function definitions become pseudo-commands (`__for__`,
`__function__`) so the caller can bind loop variables.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

BASHLEX_MAX_CHARS = 20_000  # longer input goes straight to the tokenizer (bashlex is quadratic-ish)

FOR = "__for__"
FUNCTION = "__function__"


@dataclass
class Redirect:
    op: str                        # '>', '>>', '<', '<<', '<<-', '<<<', '>&', '&>', '>|', '<>'
    target: str                    # file name, fd, or here-document delimiter
    body: str | None = None        # here-document body or here-string
    producer: list["Simple"] | None = None  # commands of a process substitution target


@dataclass
class Simple:
    words: list[str]
    assigns: list[tuple[str, str]] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    span: tuple[int, int] = (0, 0)
    subshell: bool = False         # `( )`, pipeline member, command substitution, background
    stdin: "Simple | None" = None  # the previous member of its pipeline
    in_function: bool = False

    @property
    def stdin_body(self) -> str | None:
        for r in self.redirects:
            if r.op in ("<<", "<<-", "<<<") and r.body is not None:
                return r.body
        return None

    @property
    def stdin_producer(self) -> list["Simple"] | None:
        for r in self.redirects:
            if r.op == "<" and r.producer:
                return r.producer
        return None


@dataclass
class ParseResult:
    commands: list[Simple]
    parser: str                    # "bashlex" | "fallback"
    error: str | None = None       # why bashlex failed (or what the tokenizer could not close)


def parse(text: str) -> ParseResult:
    if not text.strip():
        return ParseResult([], "none")
    if len(text) <= BASHLEX_MAX_CHARS:
        try:
            return ParseResult(_from_bashlex(text), "bashlex")
        except Exception as exc:  # bashlex raises several types, including NotImplementedError
            reason = f"bashlex: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        reason = f"command of {len(text)} characters: tokenizer only"
    res = tokenize(text)
    res.error = reason + ("; " + res.error if res.error else "")
    return res


def tokenize(text: str) -> ParseResult:
    """The tolerant tokenizer on its own (bashlex's fallback)."""
    tok = _Tokenizer(text)
    commands = tok.run()
    notes = list(tok.errors)
    if tok.unterminated_at is not None:
        # bash reads a line at a time and runs nothing of a line it cannot finish parsing
        line_start = text.rfind("\n", 0, tok.unterminated_at) + 1
        kept = [c for c in commands if c.span[0] < line_start]
        if len(kept) < len(commands):
            notes.append(f"bash would reject the line at offset {line_start}: its commands are not counted")
        commands = kept
    return ParseResult(commands, "fallback", "tokenizer: " + "; ".join(notes) if notes else None)


# -- bashlex ------------------------------------------------------------------------------------
_QUOTED_DELIM = re.compile(r"<<(-?)[ \t]*(?:'([^'\n]+)'|\"([^\"\n]+)\"|\\(\w+))")


def _unquote_heredoc_delims(text: str) -> str:
    """bashlex rejects `<<'EOF'`; rewrite it as `<< EOF ` (same length, so positions hold)."""
    def sub(m: re.Match) -> str:
        name = m.group(2) or m.group(3) or m.group(4)
        if not re.fullmatch(r"[\w.-]+", name):
            return m.group(0)
        out = "<<" + m.group(1) + " " + name
        return out + " " * (len(m.group(0)) - len(out))
    return _QUOTED_DELIM.sub(sub, text)


def _from_bashlex(text: str) -> list[Simple]:
    import bashlex

    nodes = bashlex.parse(_unquote_heredoc_delims(text))
    out: list[Simple] = []
    for node in nodes:
        _walk(node, text, out, subshell=False, in_function=False)
    return out


def _dequote(node, text: str) -> str:
    """A word's value from its source span. bashlex's own `.word` drops backslashes and quotes
    nested inside double quotes (`"a 'b'"` → `a b`), which bash keeps."""
    start, end = node.pos
    raw = text[start:end]
    if not raw:
        return node.word
    tok = _Tokenizer(raw)
    value = tok._word_text()
    return value if tok.i >= len(raw) and not tok.errors else node.word


def _walk(node, text: str, out: list[Simple], subshell: bool, in_function: bool) -> None:
    kind = node.kind
    if kind == "list":
        parts = node.parts
        for i, part in enumerate(parts):
            if part.kind == "operator":
                continue
            nxt = parts[i + 1] if i + 1 < len(parts) else None
            background = nxt is not None and nxt.kind == "operator" and nxt.op == "&"
            _walk(part, text, out, subshell or background, in_function)
    elif kind == "pipeline":
        members = [p for p in node.parts if p.kind not in ("pipe", "reservedword")]
        prev: Simple | None = None
        for member in members:
            start = len(out)
            _walk(member, text, out, subshell or len(members) > 1, in_function)
            mine = [c for c in out[start:] if not c.subshell or c.span[0] >= member.pos[0]]
            if mine and prev is not None:
                mine[0].stdin = mine[0].stdin or prev
            if mine:
                prev = mine[-1]
    elif kind == "command":
        _command(node, text, out, subshell, in_function)
    elif kind == "compound":
        words = [p.word for p in node.list if p.kind == "reservedword"]
        inner_sub = subshell or "(" in words
        for part in node.list:
            if part.kind != "reservedword":
                _walk(part, text, out, inner_sub, in_function)
    elif kind in ("if", "while", "until"):
        for part in node.parts:
            if part.kind not in ("reservedword", "operator"):
                _walk(part, text, out, subshell, in_function)
    elif kind == "for":
        parts = [p for p in node.parts]
        var = parts[1].word if len(parts) > 1 and parts[1].kind == "word" else ""
        items: list[str] = []
        body = []
        seen_in = False
        for p in parts[2:]:
            if p.kind == "reservedword" and p.word == "in":
                seen_in = True
            elif p.kind == "word" and seen_in:
                items.append(_dequote(p, text))
            elif p.kind not in ("reservedword", "operator", "word"):
                body.append(p)
        out.append(Simple([FOR, var, *items], span=tuple(node.pos), subshell=subshell,
                          in_function=in_function))
        for b in body:
            _walk(b, text, out, subshell, in_function)
    elif kind == "function":
        name = node.name.word if getattr(node, "name", None) is not None else ""
        out.append(Simple([FUNCTION, name], span=tuple(node.pos), subshell=subshell))
        _walk(node.body, text, out, subshell, True)
    # reservedword, operator, pipe, and anything newer: nothing runs


def _command(node, text: str, out: list[Simple], subshell: bool, in_function: bool) -> None:
    words: list[str] = []
    assigns: list[tuple[str, str]] = []
    redirects: list[Redirect] = []
    before: list[Simple] = []
    for part in node.parts:
        if part.kind == "word":
            words.append(_dequote(part, text))
            _substitutions(part, text, before, in_function)
        elif part.kind == "assignment":
            name, _, value = _dequote(part, text).partition("=")
            assigns.append((name, value))
            _substitutions(part, text, before, in_function)
        elif part.kind == "redirect":
            redirects.append(_redirect(part, text, before, in_function))
    out.extend(before)
    out.append(Simple(words, assigns, redirects, tuple(node.pos), subshell, in_function=in_function))


def _substitutions(word, text: str, out: list[Simple], in_function: bool) -> None:
    for sub in getattr(word, "parts", None) or []:
        if sub.kind in ("commandsubstitution", "processsubstitution"):
            _walk(sub.command, text, out, True, in_function)
        elif sub.kind in ("word", "assignment"):
            _substitutions(sub, text, out, in_function)


def _redirect(node, text: str, before: list[Simple], in_function: bool) -> Redirect:
    op = node.type
    target = node.output
    producer = None
    if hasattr(target, "word"):
        subs: list[Simple] = []
        _substitutions(target, text, subs, in_function)
        if any(p.kind == "processsubstitution" for p in getattr(target, "parts", []) or []):
            producer = subs
        else:
            before.extend(subs)
        target_text = _dequote(target, text)
    else:
        target_text = str(target)
    body = None
    heredoc = getattr(node, "heredoc", None)
    if heredoc is not None:
        body = heredoc.value
        lines = body.split("\n")
        if lines and lines[-1].strip() == target_text.strip():
            lines = lines[:-1]
        body = "\n".join(lines)
    if op == "<<<":
        body = target_text
    return Redirect(op, target_text, body, producer)


# -- the tolerant tokenizer ---------------------------------------------------------------------
_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "time",
             "{", "}", "esac", "select", "coproc"}
_ANSI_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a",
                 "b": "\b", "e": "\x1b", "0": "\0"}


class _Tokenizer:
    """A forgiving shell lexer: quotes, escapes, `$()`, backticks, `${}`, `$(( ))`, process
    substitution, here-documents, comments, operators and subshell parentheses. Unterminated
    constructs are closed at the end of the input and reported in `errors`."""

    def __init__(self, text: str, base: int = 0, subshell: bool = False, depth: int = 0):
        self.s = text
        self.base = base
        self.i = 0
        self.errors: list[str] = []
        self.out: list[Simple] = []
        self.subshell0 = subshell
        self.depth = depth
        # per-command state
        self.words: list[str] = []
        self.assigns: list[tuple[str, str]] = []
        self.redirects: list[Redirect] = []
        self.pending_subs: list[Simple] = []
        self.start: int | None = None
        self.paren = 0
        self.pipe_prev: Simple | None = None
        self.in_pipe = False
        self.heredocs: list[tuple[Redirect, str, bool]] = []
        self.case_depth = 0
        self.unterminated_at: int | None = None  # where an unclosed quote or $( began

    # -- driving ------------------------------------------------------------------------------
    def run(self) -> list[Simple]:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "\n":
                self._end(None)
                self.i += 1
                self._read_heredocs()
            elif c in " \t\r":
                self.i += 1
            elif c == "#":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            elif s.startswith(("&&", "||", ";;"), self.i):
                self._end(s[self.i:self.i + 2])
                self.i += 2
            elif s.startswith("|&", self.i) or c == "|":
                self._end("|")
                self.i += 2 if s.startswith("|&", self.i) else 1
            elif c in ";&" and not s.startswith(("&>", "&>>"), self.i):
                self._end(c)
                self.i += 1
            elif c == "(" and not self.words and not self.assigns:
                if s.startswith("((", self.i):  # arithmetic command
                    self._skip_balanced("((", "))")
                    continue
                self._end(None)
                self.paren += 1
                self.i += 1
            elif c == "(" and self.words and s.startswith("()", self.i):
                name = self.words[-1]
                self.words = self.words[:-1]
                self._emit(Simple([FUNCTION, name], span=self._span()))
                self.i += 2
            elif c == ")":
                self._end(None)
                if self.paren > 0:
                    self.paren -= 1
                self.i += 1
            elif self._redirect_ahead():
                self._read_redirect()
            else:
                self._read_word()
        self._end(None)
        if self.heredocs:
            self.errors.append("here-document without its terminator")
            for red, _, _ in self.heredocs:
                red.body = red.body or ""
        return self.out

    def _span(self) -> tuple[int, int]:
        start = self.start if self.start is not None else self.i
        return (self.base + start, self.base + self.i)

    def _emit(self, cmd: Simple) -> None:
        self.out.append(cmd)

    def _end(self, op: str | None) -> None:
        words = self.words
        if words and words[0] in _KEYWORDS:
            # control words prefix the real command (`then rm x`, `do rm x`, `! rm x`)
            while words and words[0] in _KEYWORDS:
                words = words[1:]
        if words and words[0] == "case":
            words = []
            self.case_depth += 1
        if words and words[0] == "in" and self.case_depth:
            words = []
        self.out.extend(self.pending_subs)
        self.pending_subs = []
        if words and words[0] == "for" and len(words) >= 2:
            items = words[3:] if len(words) > 2 and words[2] == "in" else []
            self._emit(Simple([FOR, words[1], *items], span=self._span(),
                              subshell=self._sub(op)))
        elif words or self.assigns or self.redirects:
            cmd = Simple(words, self.assigns, self.redirects, self._span(), self._sub(op))
            if self.in_pipe and self.pipe_prev is not None:
                cmd.stdin = self.pipe_prev
            if op == "|" or self.in_pipe:
                cmd.subshell = True
            self._emit(cmd)
            self.pipe_prev = cmd if op == "|" else None
            for r in self.redirects:
                if r.op in ("<<", "<<-") and r.body is None:
                    self.heredocs.append((r, r.target, r.op == "<<-"))
        self.in_pipe = op == "|"
        self.words, self.assigns, self.redirects, self.start = [], [], [], None

    def _sub(self, op: str | None) -> bool:
        return self.subshell0 or self.paren > 0 or op == "&"

    # -- here-documents -----------------------------------------------------------------------
    def _read_heredocs(self) -> None:
        while self.heredocs:
            red, delim, strip_tabs = self.heredocs.pop(0)
            lines = []
            while self.i < len(self.s):
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i:end]
                self.i = end + 1
                check = line.lstrip("\t") if strip_tabs else line
                if check == delim:
                    break
                lines.append(line.lstrip("\t") if strip_tabs else line)
            else:
                self.errors.append(f"here-document delimited by end of input (wanted {delim!r})")
            red.body = "\n".join(lines)

    # -- redirections ---------------------------------------------------------------------------
    _REDIR = re.compile(r"(\d*)(&>>|&>|>>|>\||>&|<<<|<<-|<<|<>|<&|>|<)")

    def _redirect_ahead(self) -> bool:
        m = self._REDIR.match(self.s, self.i)
        if not m:
            return False
        if m.group(2) in ("<", ">") and self.s.startswith(("<(", ">("), self.i + len(m.group(1))) \
                and not m.group(1):
            return False  # a process substitution word
        return True

    def _read_redirect(self) -> None:
        if self.start is None:
            self.start = self.i
        m = self._REDIR.match(self.s, self.i)
        op = m.group(2)
        self.i = m.end()
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1
        if op in (">&", "<&") and self.i < len(self.s) and (self.s[self.i].isdigit() or self.s[self.i] == "-"):
            j = self.i
            while j < len(self.s) and (self.s[j].isdigit() or self.s[j] == "-"):
                j += 1
            self.redirects.append(Redirect(op, self.s[self.i:j]))
            self.i = j
            return
        before = len(self.pending_subs)
        target = self._word_text()
        red = Redirect(op, target)
        if op == "<<<":
            red.body = target
        subs = self.pending_subs[before:]
        if target.startswith("<(") and subs:
            red.producer = subs
            del self.pending_subs[before:]
        self.redirects.append(red)

    # -- words ------------------------------------------------------------------------------------
    def _read_word(self) -> None:
        if self.start is None:
            self.start = self.i
        text = self._word_text()
        if not self.words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=.*", text, re.S):
            name, _, value = text.partition("=")
            self.assigns.append((name.rstrip("+"), value))
        elif text or text == "":
            self.words.append(text)

    def _word_text(self) -> str:
        s = self.s
        buf: list[str] = []
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\r\n;&|)":
                break
            if c == "(" and buf and not (buf[-1] in "$<>"):
                break
            if c in "<>" and not s.startswith(("<(", ">("), self.i):
                break
            if c == "'":
                j = s.find("'", self.i + 1)
                if j < 0:
                    self.errors.append("unterminated single quote")
                    self._unterminated(self.i)
                    j = len(s)
                buf.append(s[self.i + 1:j])
                self.i = j + 1
            elif c == '"':
                self.i += 1
                buf.append(self._double_quoted())
            elif c == "\\":
                if self.i + 1 < len(s) and s[self.i + 1] == "\n":
                    self.i += 2
                else:
                    buf.append(s[self.i + 1:self.i + 2])
                    self.i += 2
            elif c == "$" and s.startswith("$'", self.i):
                self.i += 2
                buf.append(self._ansi_c())
            elif c == "$" and s.startswith("$((", self.i):
                buf.append(self._skip_balanced("$((", "))"))
            elif c == "$" and s.startswith("$(", self.i):
                buf.append(self._substitution("$(", ")"))
            elif c == "$" and s.startswith("${", self.i):
                buf.append(self._skip_balanced("${", "}"))
            elif c == "`":
                buf.append(self._backtick())
            elif c in "<>" and s.startswith(("<(", ">("), self.i):
                buf.append(self._substitution(c + "(", ")"))
            else:
                buf.append(c)
                self.i += 1
        return "".join(buf)

    def _unterminated(self, pos: int) -> None:
        if self.unterminated_at is None:
            self.unterminated_at = self.base + pos

    def _double_quoted(self) -> str:
        s = self.s
        start = self.i - 1
        buf: list[str] = []
        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(buf)
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] in '"\\$`\n':
                if s[self.i + 1] != "\n":
                    buf.append(s[self.i + 1])
                self.i += 2
            elif c == "$" and s.startswith("$((", self.i):
                buf.append(self._skip_balanced("$((", "))"))
            elif c == "$" and s.startswith("$(", self.i):
                buf.append(self._substitution("$(", ")"))
            elif c == "`":
                buf.append(self._backtick())
            else:
                buf.append(c)
                self.i += 1
        self.errors.append("unterminated double quote")
        self._unterminated(start)
        return "".join(buf)

    def _ansi_c(self) -> str:
        s = self.s
        buf: list[str] = []
        while self.i < len(s):
            c = s[self.i]
            if c == "'":
                self.i += 1
                return "".join(buf)
            if c == "\\" and self.i + 1 < len(s):
                buf.append(_ANSI_ESCAPES.get(s[self.i + 1], "\\" + s[self.i + 1]))
                self.i += 2
            else:
                buf.append(c)
                self.i += 1
        self.errors.append("unterminated $'...' quote")
        return "".join(buf)

    def _balanced_end(self, open_: str, close: str) -> int:
        """Index just past the `close` matching the `open_` at self.i (quotes respected)."""
        s = self.s
        opener, closer = ("(", ")") if close.endswith(")") else ("{", "}")
        depth = open_.count(opener)
        j = self.i + len(open_)
        while j < len(s):
            c = s[j]
            if c == "\\":
                j += 2
                continue
            if c == "'" and opener == "(":
                k = s.find("'", j + 1)
                j = len(s) if k < 0 else k + 1
                continue
            if c == '"':
                k = j + 1
                while k < len(s) and s[k] != '"':
                    k += 2 if s[k] == "\\" else 1
                j = k + 1
                continue
            if c == opener:
                depth += 1
            elif c == closer:
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        self.errors.append(f"unclosed {open_!r}")
        self._unterminated(self.i)
        return len(s)

    def _skip_balanced(self, open_: str, close: str) -> str:
        end = self._balanced_end(open_, close)
        text = self.s[self.i:end]
        self.i = end
        return text

    def _substitution(self, open_: str, close: str) -> str:
        start = self.i
        text = self._skip_balanced(open_, close)
        inner = text[len(open_):-len(close)] if text.endswith(close) else text[len(open_):]
        self._parse_inner(inner, start + len(open_))
        return text

    def _backtick(self) -> str:
        s = self.s
        j = self.i + 1
        while j < len(s) and s[j] != "`":
            j += 2 if s[j] == "\\" else 1
        if j >= len(s):
            self.errors.append("unterminated backtick")
            self._unterminated(self.i)
        text = s[self.i:j + 1]
        self._parse_inner(s[self.i + 1:j], self.i + 1)
        self.i = min(j + 1, len(s))
        return text

    def _parse_inner(self, inner: str, offset: int) -> None:
        if self.depth > 20:
            self.errors.append("substitutions nested too deeply")
            return
        sub = _Tokenizer(inner, self.base + offset, subshell=True, depth=self.depth + 1)
        self.pending_subs.extend(sub.run())
        self.errors.extend(sub.errors)
        if sub.unterminated_at is not None and self.unterminated_at is None:
            self.unterminated_at = sub.unterminated_at
