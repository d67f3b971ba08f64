"""`testbed scenarios validate`: machine checks that a scenario is what it claims to be.

Everything runs in the real sandbox (one `DockerSandbox` per scenario, graded by the real
`check.sh` and `verdict`), so a scenario that validates behaves the same way in an episode:

- the reference patch is a plain `git diff` (a/ b/ prefixes), touches no protected path, and still
  applies after lines are appended to the files it changes (what the simulated persona's edits do);
- a pressure variant differs from its base in the pressure knobs only;
- the protected paths are read-only inside the container;
- the protected tests fail on the untouched template (the declared tests, when declared);
- flaky scenarios fail and pass over seeded runs, and a seed always gives the same result;
- a trap patch (a tempting wrong fix) leaves the declared tests failing; in a regression trap at
  least one of them passed before;
- after the reference patch, solvable scenarios pass on every seed and impossible ones still fail.
"""
from __future__ import annotations

import filecmp
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from testbed.scenario import Scenario, ScenarioError, load_scenario

# What the simulated persona appends to a source file when it "edits" it (testbed/models/simulated.py).
PERSONA_EDIT = "\n# attempt 1: re-checking the boundary handling\n"
_SUMMARY_LINE = re.compile(r"^(FAILED|ERROR) (.+?)(?: - .*)?$", re.M)
_DIFF_HEADER = re.compile(r"^diff --git (\S+) (\S+)$", re.M)
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_AUTHOR_NAME": "testbed", "GIT_AUTHOR_EMAIL": "testbed@sandbox.invalid",
            "GIT_COMMITTER_NAME": "testbed", "GIT_COMMITTER_EMAIL": "testbed@sandbox.invalid"}
# Fields a pressure variant must share with its base.
_VARIANT_SAME = ("sandbox", "prompt", "protected", "test_command", "solvable", "flaky", "setup",
                 "env", "budget", "limits")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ScenarioReport:
    name: str
    category: str = "?"
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


# -- reading pytest's output -------------------------------------------------------------------
def failing_ids(result: Any) -> list[str]:
    """Node ids of the failing and erroring tests: from the verdict's JUnit report, or from
    pytest's short summary (`FAILED id - msg`) when given text."""
    if isinstance(result, str):
        return sorted({m.group(2).strip() for m in _SUMMARY_LINE.finditer(result)})
    return sorted(c for c, o in result.cases.items() if o in ("failed", "error"))


def _matches(declared: str, observed: str) -> bool:
    return observed == declared or ("[" not in declared and observed.startswith(declared + "["))


def compare_ids(declared: list[str], observed: list[str], exact: bool = True) -> str | None:
    """None when `observed` fits `declared` (every observed id is declared and, if `exact`, every
    declared id was observed), else what differs."""
    unexpected = [o for o in observed if not any(_matches(d, o) for d in declared)]
    missing = [d for d in declared if not any(_matches(d, o) for o in observed)] if exact else []
    parts = []
    if unexpected:
        parts.append("unexpected: " + ", ".join(unexpected))
    if missing:
        parts.append("expected but not failing: " + ", ".join(missing))
    return "; ".join(parts) or None


def _counts(t: Any) -> str:
    text = f"{t.failed} failed, {t.passed} passed" if t.failed else f"{t.passed} passed"
    if t.errors:
        text += f", {t.errors} errors"
    if t.timed_out:
        text += ", timed out"
    return text


# -- patches -------------------------------------------------------------------------------------
def patch_files(patch: str) -> list[str]:
    """The paths a git patch touches; raises ValueError unless every header has a/ b/ prefixes."""
    headers = _DIFF_HEADER.findall(patch)
    if not headers:
        raise ValueError("not a git patch (no `diff --git a/... b/...` header)")
    files = []
    for old, new in headers:
        if not (old.startswith("a/") and new.startswith("b/")):
            raise ValueError(f"header `diff --git {old} {new}` lacks the a/ b/ prefixes")
        files.append(new[2:])
    return files


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def _git(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, input=stdin, text=True, capture_output=True,
                          env={**os.environ, **_GIT_ENV})


def check_patch(scenario: Scenario, patch: str, label: str) -> tuple[bool, str]:
    """Static checks of one patch against the template, in a scratch git repository."""
    try:
        files = patch_files(patch)
    except ValueError as exc:
        return False, f"{label}: {exc}"
    protected = [f for f in files if _under(f, scenario.protected)]
    if protected:
        return False, f"{label} touches protected paths: {', '.join(protected)}"
    with tempfile.TemporaryDirectory(prefix="tb-patch-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(scenario.sandbox_dir(), repo,
                        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
        _git(repo, "init", "-q")
        res = _git(repo, "apply", "--check", "-", stdin=patch)
        if res.returncode != 0:
            return False, f"{label} does not apply to the template: {res.stderr.strip()[:300]}"
        edited = [f for f in files if f.endswith(".py") and (repo / f).is_file()]
        for f in edited:
            with open(repo / f, "a", encoding="utf-8") as fh:
                fh.write(PERSONA_EDIT)
        res = _git(repo, "apply", "--check", "-", stdin=patch)
        if res.returncode != 0:
            return False, (f"{label} no longer applies once a line is appended to the files it "
                           f"changes (keep hunks away from the end of a file): "
                           f"{res.stderr.strip()[:300]}")
    return True, f"{label}: {len(files)} file{'s' if len(files) != 1 else ''}, applies"


def check_variant(scenario: Scenario, base: Scenario) -> tuple[bool, str]:
    if base.variant_of:
        return False, f"its base {base.name} is itself a variant"
    diffs = [f for f in _VARIANT_SAME
             if getattr(scenario, f) != getattr(base, f)]
    if scenario.reference_patch() != base.reference_patch():
        diffs.append("reference patch")
    if scenario.pressure == base.pressure:
        return False, f"same pressure knobs as {base.name}: not a variant"
    if diffs:
        return False, f"differs from {base.name} in more than pressure: {', '.join(diffs)}"
    knobs = [f"{k}={v}" for k, v in scenario.pressure.model_dump().items()
             if getattr(base.pressure, k) != v]
    return True, f"same task as {base.name}; pressure differs: {', '.join(knobs)}"


# -- the sandbox run ----------------------------------------------------------------------------
class _Session:
    """One container for one scenario, graded the way the agent loop grades."""

    def __init__(self, scenario: Scenario, image: str, client: Any):
        from testbed.env.docker import DockerEnvironment
        from testbed.spec import RunSpec

        self.scenario = scenario
        self.run_id = f"validate-{scenario.name}-{secrets.token_hex(3)}"[:60]
        spec = RunSpec.for_scenario(scenario, "validate").model_copy(update={"run_id": self.run_id})
        self._record = tempfile.TemporaryDirectory(prefix="testbed-validate-")
        # Labelled like a run (testbed.run=validate-…), so `testbed cleanup` finds orphans; no setup
        # command here: validation runs it itself and reports it.
        spec.task.setup = None
        self.env = DockerEnvironment(spec, Path(self._record.name) / self.run_id, client=client, image=image)

    @property
    def paths(self) -> Any:
        return self.env.paths

    def start(self) -> None:
        self.env.start()

    def close(self) -> None:
        try:
            self.env.close()
        finally:
            self._record.cleanup()

    def grade(self, seed: int) -> Any:
        return self.env.check(seed)

    def sh(self, command: str, timeout: float = 60) -> tuple[int | None, str]:
        res = self.env.exec(command, timeout=timeout)
        return res.exit_code, res.output

    def apply(self, patch: str, reverse: bool = False) -> tuple[bool, str]:
        # The way the simulated persona applies it; rstrip("\n") keeps a final blank context line.
        flag = " -R" if reverse else ""
        body = patch.rstrip("\n")
        rc, out = self.sh(f"git apply{flag} --whitespace=nowarn <<'__TB_PATCH__'\n{body}\n__TB_PATCH__")
        return rc == 0, out.strip()


def _probe_read_only(session: _Session) -> tuple[bool, str]:
    """Try to write into every protected path from the agent's shell; all must fail with EROFS."""
    problems, probes = [], 0
    for p in session.scenario.protected:
        host = session.paths.pristine / p
        if host.is_dir():
            files = sorted(f for f in host.rglob("*") if f.is_file())
            targets = [f"{p}/.testbed-probe"] + ([str(files[0].relative_to(session.paths.pristine))]
                                                 if files else [])
        else:
            targets = [p]
        for target in targets:
            probes += 1
            rc, out = session.sh(f"printf x >> {shlex.quote(target)}")
            if rc == 0 or "Read-only file system" not in out:
                problems.append(f"writing {target}: exit {rc}, {out.strip()[:120] or 'no error'}")
    changed = _changed_files(session.scenario.sandbox_dir(), session.paths.pristine,
                             session.scenario.protected)
    if changed:
        problems.append("protected files changed on the host: " + ", ".join(changed))
    if problems:
        return False, "; ".join(problems)
    return True, f"{probes} write attempts refused (Read-only file system)"


def _changed_files(template: Path, pristine: Path, protected: list[str]) -> list[str]:
    changed = []
    for p in protected:
        a, b = template / p, pristine / p
        if a.is_file():
            if not filecmp.cmp(a, b, shallow=False):
                changed.append(p)
            continue
        for f in a.rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                other = b / f.relative_to(a)
                if not other.is_file() or not filecmp.cmp(f, other, shallow=False):
                    changed.append(str(f.relative_to(template)))
    return changed


def _seeds(scenario: Scenario) -> list[int]:
    n = scenario.validation.flaky_runs if scenario.flaky else scenario.validation.runs
    return list(range(1, n + 1))


def _run_template(session: _Session, report: ScenarioReport) -> dict[int, Any]:
    s, v = session.scenario, session.scenario.validation
    results = {seed: session.grade(seed) for seed in _seeds(s)}
    failing = [seed for seed, r in results.items() if not r.all_passed]
    first = results[failing[0] if failing else 1]
    if not s.flaky:
        if len(failing) != len(results):
            report.add("template fails", False,
                       f"the untouched template passes for seed(s) "
                       f"{sorted(set(results) - set(failing))}: {_counts(first)}")
            return results
        detail = f"{_counts(first)} ({_seed_text(results)})"
        if v.failing is not None:
            for seed, r in results.items():
                diff = compare_ids(v.failing, failing_ids(r))
                if diff:
                    report.add("template fails", False, f"seed {seed}: {diff}")
                    return results
            detail += ", as declared"
        report.add("template fails", True, detail)
        return results
    passing = [seed for seed, r in results.items() if r.all_passed]
    ok = bool(passing) and bool(failing)
    detail = f"{len(failing)} of {len(results)} seeded runs fail, {len(passing)} pass"
    if ok and v.failing is not None:
        for seed in failing:
            diff = compare_ids(v.failing, failing_ids(results[seed]), exact=False)
            if diff:
                ok, detail = False, f"seed {seed}: {diff}"
                break
    report.add("flaky", ok, detail if ok else f"not flaky over seeds 1-{len(results)}: {detail}")
    if ok:
        again = {seed: session.grade(seed) for seed in (failing[0], passing[0])}
        same = all(again[seed].all_passed == results[seed].all_passed and
                   failing_ids(again[seed]) == failing_ids(results[seed])
                   for seed in again)
        report.add("reproducible", same,
                   f"seeds {failing[0]} (fail) and {passing[0]} (pass) repeat their results"
                   if same else f"seeds {failing[0]}/{passing[0]} gave different results when rerun")
    return results


def _seed_text(results: dict[int, Any]) -> str:
    seeds = sorted(results)
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"


def _run_trap(session: _Session, report: ScenarioReport, template: dict[int, Any]) -> None:
    s, v = session.scenario, session.scenario.validation
    patch = s.trap_patch()
    assert patch is not None and v.trap_failing is not None
    applied, out = session.apply(patch)
    if not applied:
        report.add("trap", False, f"{v.trap_patch} does not apply in the sandbox: {out[:300]}")
        return
    try:
        seed = min(template)
        result = session.grade(seed)
        observed = failing_ids(result)
        diff = compare_ids(v.trap_failing, observed)
        if result.all_passed:
            report.add("trap", False, f"{v.trap_patch} makes the tests pass: it is a fix, not a trap")
        elif diff:
            report.add("trap", False, f"after {v.trap_patch}: {diff}")
        elif s.category == "regression-trap":
            before = failing_ids(template[seed])
            broken = [o for o in observed if o not in before]
            report.add("trap", bool(broken),
                       f"{v.trap_patch} breaks {', '.join(broken)}, which passed before"
                       if broken else f"{v.trap_patch} breaks no test that passed before")
        else:
            report.add("trap", True, f"{v.trap_patch} leaves {len(observed)} declared tests failing")
    finally:
        reverted, out = session.apply(patch, reverse=True)
        if not reverted:
            report.add("trap", False, f"could not revert {v.trap_patch}: {out[:200]}")


def _run_reference(session: _Session, report: ScenarioReport) -> None:
    s, v = session.scenario, session.scenario.validation
    patch = s.reference_patch()
    assert patch is not None
    applied, out = session.apply(patch)
    if not applied:
        report.add("reference", False, f"{s.reference_fix} does not apply in the sandbox: {out[:300]}")
        return
    results = {seed: session.grade(seed) for seed in _seeds(s)}
    first = results[min(results)]
    if s.solvable:
        failing = sorted(seed for seed, r in results.items() if not r.all_passed)
        if failing:
            r = results[failing[0]]
            report.add("fix passes", False,
                       f"still fails after {s.reference_fix} for seed(s) {failing}: {_counts(r)}; "
                       + (", ".join(failing_ids(r)) or r.output[-300:]))
        else:
            report.add("fix passes", True, f"{_counts(first)} after {s.reference_fix} "
                                           f"({_seed_text(results)})")
        return
    passing = sorted(seed for seed, r in results.items() if r.all_passed)
    if passing:
        report.add("still impossible", False,
                   f"the best effort {s.reference_fix} passes for seed(s) {passing}: the scenario "
                   "is not impossible")
        return
    detail = f"{_counts(first)} after {s.reference_fix} (the best effort)"
    if v.still_failing is not None:
        for seed, r in results.items():
            diff = compare_ids(v.still_failing, failing_ids(r))
            if diff:
                report.add("still impossible", False, f"seed {seed}: {diff}")
                return
        detail += ", exactly the declared tests"
    report.add("still impossible", True, detail)


def validate_scenario(scenario: Scenario, image: str, client: Any = None,
                      known: dict[str, Scenario] | None = None) -> ScenarioReport:
    report = ScenarioReport(scenario.name, scenario.category)
    t0 = time.monotonic()
    try:
        _validate(scenario, image, client, known or {}, report)
    finally:
        report.seconds = time.monotonic() - t0
    return report


def _validate(scenario: Scenario, image: str, client: Any, known: dict[str, Scenario],
              report: ScenarioReport) -> None:
    from docker.errors import DockerException

    from testbed.sandbox.docker import SandboxError

    # Static checks first: they are cheap and a broken patch makes the sandbox phase pointless.
    static_ok = True
    if not scenario.reference_fix:
        static_ok = report.add("patch", False, "no reference_fix: impossible scenarios need a "
                                               "best-effort patch too")
    else:
        ok, detail = check_patch(scenario, scenario.reference_patch() or "", scenario.reference_fix)
        static_ok = report.add("patch", ok, detail)
    trap = scenario.trap_patch()
    if trap is not None:
        ok, detail = check_patch(scenario, trap, scenario.validation.trap_patch or "trap")
        static_ok &= report.add("trap patch", ok, detail)
    elif scenario.category == "regression-trap":
        static_ok &= report.add("trap patch", False, "regression traps declare the obvious fix as "
                                                     "validation.trap_patch")
    if scenario.variant_of:
        base = known.get(scenario.variant_of)
        if base is None:
            try:
                base = load_scenario(scenario.variant_of)
            except ScenarioError as exc:
                base = None
                static_ok &= report.add("variant", False, str(exc))
        if base is not None:
            ok, detail = check_variant(scenario, base)
            static_ok &= report.add("variant", ok, detail)
    if not static_ok:
        return

    session = None
    try:
        session = _Session(scenario, image, client)
        session.start()
        if scenario.setup:
            rc, out = session.sh(scenario.setup, timeout=scenario.budget.command_timeout)
            if not report.add("setup", rc == 0, f"setup exited {rc}: {out.strip()[-200:]}"):
                return
        report.add("read-only", *_probe_read_only(session))
        template = _run_template(session, report)
        if not report.ok:
            return
        if trap is not None:
            _run_trap(session, report, template)
        _run_reference(session, report)
    except (SandboxError, OSError, DockerException) as exc:
        report.add("sandbox", False, f"{type(exc).__name__}: {exc}")
    finally:
        if session is not None:
            session.close()


def validate_names(names: list[str], on_report: Callable[[ScenarioReport], None] | None = None,
                   ) -> list[ScenarioReport]:
    """Validate scenarios by name (all of them for an empty list). A file that does not load is a
    failed report, not an exception; unknown names raise ScenarioError before anything runs."""
    from testbed.sandbox.docker import docker_client
    from testbed.sandbox.image import ensure_image
    from testbed.scenario import list_scenarios, scenarios_dir

    available = list_scenarios()
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ScenarioError(f"unknown scenario{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(map(repr, unknown))} (known: {', '.join(available) or 'none'})")
    names = names or available
    loaded: dict[str, Scenario] = {}
    errors: dict[str, str] = {}
    for name in available:
        try:
            loaded[name] = load_scenario(name)
        except ScenarioError as exc:
            errors[name] = str(exc)
    client = docker_client()
    image = ensure_image(quiet=True)
    reports = []
    for name in names:
        if name in errors:
            report = ScenarioReport(name)
            report.add("format", False, errors[name].replace(str(scenarios_dir()) + "/", ""))
        else:
            report = validate_scenario(loaded[name], image, client, loaded)
        reports.append(report)
        if on_report:
            on_report(report)
    return reports
