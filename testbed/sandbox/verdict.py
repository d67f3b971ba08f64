"""The verdict: the harness's own test run, in a fresh container the agent never touched.

For each check the harness writes the recorded tree (the shadow-git capture of the workspace) into
a directory of its own, puts back the pristine protected paths and the pristine test-runner files
(every conftest.py, pytest/tox/setup config, site hook and .pth file the template did not have is
dropped), and runs the scenario's test command in a new, locked-down container from the same image
with no process of the agent's in it and no path of the agent's mounted. The runner is pinned
(`verdict.sh`), and the result is read from pytest's JUnit report once the container is stopped;
exit status and text alone never make a pass:

  timeout, no report, an unreadable report, the harness's guard (testbed_guard.py) missing or
  reporting that pytest was altered, a JUnit report that disagrees with the guard's own record,
  zero tests, fewer tests than the pristine suite, a pristine test now skipped, a failure or
  error, or an exit status that disagrees with the report: each is "not passed", and `basis`
  says which.

The next check's container is started in the background as soon as one check ends, so a check
costs the test run plus one `docker exec`, not a container start.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import threading
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import docker
from docker.types import Mount

from testbed.sandbox import safefs, tamper
from testbed.sandbox.docker import HARNESS, WRITABLE, kill_cgroup, cgroup_dir, locked_down, owner_labels, remove_container
from testbed.sandbox.output import head_tail
from testbed.sandbox.workspace import AGENT_GID, AGENT_UID, WorkspacePaths, chown_tree, clear_dir

REPORT_LIMIT = 16 * 1024 * 1024
# Names that change how the test runner behaves wherever they sit in the tree.
RUNNER_FILES = {"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini",
                "setup.cfg", "pyproject.toml", "sitecustomize.py", "usercustomize.py"}
BASES = ("junit", "timeout", "no_report", "bad_report", "tampered", "no_tests", "missing_tests",
         "skipped_tests", "exit_status", "error")


def runner_file(name: str) -> bool:
    return name in RUNNER_FILES or name.endswith(".pth")


@dataclass
class Verdict:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    collected: int = 0
    all_passed: bool = False
    exit_code: int | None = None
    duration_ms: float = 0.0
    output: str = ""
    timed_out: bool = False
    basis: str = "error"
    reason: str = ""
    cases: dict[str, str] = field(default_factory=dict)  # test id -> passed|failed|error|skipped
    lingering: int = 0          # processes of the tested code alive when the test command ended
    tree: str | None = None     # the shadow-git tree that was tested


@dataclass
class Reference:
    """What the pristine suite collects: every test id and which of them are skipped."""

    ids: set[str]
    skipped: set[str]
    source: str  # initial | reference_patch


def harness_pytest_ini(pristine: Path) -> str:
    """The harness's own pytest config: the template's pytest settings (if it has any), plus a
    rootdir on sys.path so the tests import the project without the cwd on the path."""
    lines = ["[pytest]", "pythonpath = /workspace", "junit_family = xunit2"]
    options = _pristine_options(pristine)
    for key, value in options.items():
        if key in ("pythonpath", "junit_family", "cache_dir"):
            continue
        if isinstance(value, list):
            value = "\n    ".join(str(v) for v in value)
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def _pristine_options(pristine: Path) -> dict[str, Any]:
    import configparser
    for name, section in (("pytest.ini", "pytest"), (".pytest.ini", "pytest"), ("tox.ini", "pytest"),
                          ("setup.cfg", "tool:pytest")):
        path = pristine / name
        if path.is_file():
            cp = configparser.ConfigParser(interpolation=None)
            try:
                cp.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
            if cp.has_section(section):
                return dict(cp.items(section))
    path = pristine / "pyproject.toml"
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return {}
        return dict(data.get("tool", {}).get("pytest", {}).get("ini_options", {}))
    return {}


def prepare_tree(tree: Path, pristine: Path, protected: list[str]) -> list[str]:
    """Put the pristine protected paths and runner files back into a materialized tree, never
    following a link the agent left in it. Returns what was replaced or dropped."""
    changed: list[str] = []
    for p in protected:
        _clear_path(tree, p)
        src, dst = pristine / p, tree / p
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(tree):
        rel_dir = os.path.relpath(dirpath, tree)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            if not runner_file(name):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            target = Path(dirpath) / name
            if (pristine / rel).is_file() and not (pristine / rel).is_symlink():
                if target.is_symlink() or not _same_file(target, pristine / rel):
                    target.unlink()
                    shutil.copy2(pristine / rel, target)
                    changed.append(f"restored {rel}")
            else:
                target.unlink()
                changed.append(f"dropped {rel}")
    for dirpath, _, filenames in os.walk(pristine):
        for name in filenames:
            if runner_file(name):
                rel = os.path.relpath(os.path.join(dirpath, name), pristine)
                if not os.path.lexists(tree / rel):
                    _clear_path(tree, rel)
                    shutil.copy2(pristine / rel, tree / rel)
                    changed.append(f"restored {rel}")
    return changed


def _clear_path(tree: Path, rel: str) -> None:
    """Make every parent of `tree/rel` a real directory (an agent link there is removed) and
    remove whatever `tree/rel` is."""
    parts = Path(rel).parts
    cur = tree
    for part in parts[:-1]:
        cur = cur / part
        try:
            st = os.lstat(cur)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(cur)
                cur.mkdir()
        except FileNotFoundError:
            cur.mkdir()
    target = tree / rel
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(target)
    else:
        os.unlink(target)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def node_id(classname: str, name: str, py_files: set[str]) -> str:
    """pytest's node id from a JUnit testcase (`tests.test_x.TestA` + `test_b` ->
    `tests/test_x.py::TestA::test_b`), using the tree's Python files to tell modules from classes."""
    parts = classname.split(".") if classname else []
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if path in py_files:
            return "::".join([path, *parts[i:], name])
    if not classname and name.replace(".", "/") + ".py" in py_files:
        return name.replace(".", "/") + ".py"  # a module that failed to collect
    return f"{classname}::{name}"


def parse_junit(data: bytes, py_files: set[str] | None = None) -> tuple[dict[str, str], str | None]:
    """Test id -> outcome from a JUnit XML report; (cases, error)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return {}, f"the JUnit report is not valid XML ({exc})"
    cases: dict[str, str] = {}
    for case in root.iter("testcase"):
        cid = node_id(case.get("classname", ""), case.get("name", ""), py_files or set())
        outcome = "passed"
        for child in case:
            if child.tag == "failure":
                outcome = "failed"
            elif child.tag == "error":
                outcome = "error"
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        if cid in cases and cases[cid] != "passed":
            continue  # a test with a teardown error appears twice; the worse outcome stays
        cases[cid] = outcome
    return cases, None


@dataclass
class Evidence:
    """What a verdict run left: its exit status and the two independent records of its tests."""

    exit_code: int | None
    timed_out: bool
    junit: bytes | None = None
    guard: bytes | None = None
    exit_marker: bool = False
    py_files: set[str] = field(default_factory=set)
    tamper: list[str] = field(default_factory=list)  # what the code under test aims at the run


def read_evidence(out: Path, exit_code: int | None, timed_out: bool, py_files: set[str],
                  tamper_found: list[str] | None = None) -> Evidence:
    exit_json = safefs.read_regular(out, "exit.json", 4096)
    return Evidence(exit_code, timed_out, safefs.read_regular(out, "junit.xml", REPORT_LIMIT),
                    safefs.read_regular(out, "guard.json", REPORT_LIMIT),
                    exit_json is not None and b'"clean": true' in exit_json, py_files, list(tamper_found or []))


def code_tamper(tree: Path, pristine: Path, protected: list[str]) -> list[str]:
    """The code under test's aims at the test run (testbed.sandbox.tamper), in the Python files
    of a prepared tree that the template did not have or had otherwise. Links are not followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in filenames:
            if not name.endswith(".py") or name == "conftest.py":
                continue
            path = Path(dirpath) / name
            rel = str(path.relative_to(tree))
            if path.is_symlink() or any(rel == p or rel.startswith(p + "/") for p in protected):
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            orig = pristine / rel
            if orig.is_file() and not orig.is_symlink() and orig.read_text(encoding="utf-8", errors="replace") == text:
                continue
            for kind, evidence in tamper.scan(text):
                if kind != "blocking_at_import":
                    found.append(f"{rel}: {kind.replace('_', ' ')}: {evidence}")
    return found


def judge(ev: Evidence, reference: Reference | None) -> tuple[bool, str, str, dict[str, str]]:
    """(passed, basis, reason, cases) from what a verdict run left and the pristine reference.
    `cases` are the guard's node ids and outcomes (the JUnit report's when the guard left none)."""
    junit, junit_error = parse_junit(ev.junit, ev.py_files) if ev.junit is not None else ({}, None)
    guard: dict[str, Any] | None = None
    if ev.guard is not None:
        try:
            guard = json.loads(ev.guard)
            if not isinstance(guard, dict) or not isinstance(guard.get("outcomes"), dict):
                guard = None
        except ValueError:
            guard = None
    cases = {str(k): str(v) for k, v in guard["outcomes"].items()} if guard else junit
    if ev.timed_out:
        return False, "timeout", "the test run did not finish in time and was killed", cases
    if ev.exit_code is None:
        return False, "error", "the test run did not report an exit status", cases
    if ev.junit is None:
        return False, "no_report", (f"the test command exited {ev.exit_code} without writing a test "
                                    "report (it exited before pytest finished, or does not run pytest)"), cases
    if junit_error:
        return False, "bad_report", junit_error, cases
    if guard is None:
        return False, "tampered", "the harness's own record of the tests is missing or unreadable", cases
    if guard.get("status") != "ok":
        changed = guard.get("changed") or ["?"]
        return False, "tampered", f"the test runner was altered during the run: {changed[0]}", cases
    if not ev.exit_marker:
        return False, "tampered", "the test process did not shut down normally (its exit was forced)", cases
    if ev.tamper:
        return False, "tampered", f"the code under test aims at the test run ({ev.tamper[0]})", cases
    if _tally(junit) != _tally(cases):
        return False, "tampered", (f"the JUnit report ({_tally_text(junit)}) and the harness's own record "
                                   f"({_tally_text(cases)}) disagree"), cases
    if not cases:
        return False, "no_tests", "no test was collected", cases
    bad = sorted(c for c, o in cases.items() if o in ("failed", "error"))
    if bad:  # failures (collection errors included) explain any missing tests
        return False, "junit", f"{len(bad)} test(s) failed or errored", cases
    if reference is not None:
        missing = sorted(reference.ids - set(cases))
        if missing:
            return False, "missing_tests", (f"{len(missing)} of the {len(reference.ids)} pristine tests "
                                            f"did not run (e.g. {missing[0]})"), cases
    allowed = reference.skipped if reference is not None else set()
    skipped = sorted(c for c, o in cases.items() if o == "skipped" and c not in allowed)
    if skipped:
        return False, "skipped_tests", f"{len(skipped)} pristine test(s) were skipped (e.g. {skipped[0]})", cases
    if ev.exit_code != 0:
        return False, "exit_status", (f"the report shows every test passing but the command exited "
                                      f"{ev.exit_code}"), cases
    return True, "junit", f"all {len(cases)} tests passed", cases


def _tally(cases: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in cases.values():
        out[o] = out.get(o, 0) + 1
    return out


def _tally_text(cases: dict[str, str]) -> str:
    t = _tally(cases)
    return ", ".join(f"{t[k]} {k}" for k in sorted(t)) or "no tests"


def verdict_from(ev: Evidence, reference: Reference | None, output: str) -> "Verdict":
    passed, basis, reason, cases = judge(ev, reference)
    counts = {k: sum(1 for o in cases.values() if o == k) for k in ("passed", "failed", "error", "skipped")}
    return Verdict(passed=counts["passed"], failed=counts["failed"], errors=counts["error"],
                   skipped=counts["skipped"], collected=len(cases), all_passed=passed,
                   exit_code=ev.exit_code, output=output, timed_out=ev.timed_out, basis=basis,
                   reason=reason, cases=cases)


class VerdictRunner:
    """Runs checks in fresh verdict containers, one per check, the next one always warming."""

    def __init__(self, client: docker.DockerClient, image: str, paths: WorkspacePaths, run_id: str,
                 protected: list[str], test_command: str, memory_mb: int = 1024, cpus: float = 1.0,
                 pids: int = 256, batch: str | None = None):
        self.client, self.image, self.paths, self.run_id = client, image, paths, run_id
        self.protected, self.test_command = protected, test_command
        self.limits = dict(memory_mb=memory_mb, cpus=cpus, pids=pids)
        self.batch = batch
        self.reference: Reference | None = None
        self._warm: Any = None
        self._warm_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checks = 0
        self.last_evidence: Evidence | None = None
        self._tamper: list[str] = []
        self.py_files = python_files(paths.pristine)
        (paths.harness / "pytest.ini").write_text(harness_pytest_ini(paths.pristine))

    # -- containers ------------------------------------------------------------------------------
    def _create(self) -> Any:
        tmpfs = {p: f"size={mb}m,uid=1000,gid=1000,mode=1777" for p, mb in WRITABLE.items()}
        mounts = [Mount("/workspace", str(self.paths.check_tree), type="bind"),
                  Mount("/tb-out", str(self.paths.check_out), type="bind"),
                  Mount(HARNESS, str(self.paths.harness), type="bind", read_only=True)]
        c = self.client.containers.run(self.image, command=["sleep", "infinity"], working_dir="/workspace",
                                       labels=owner_labels(self.run_id, "verdict", self.batch),
                                       mounts=mounts, tmpfs=tmpfs,
                                       environment={"HOME": "/home/agent", "LANG": "C.UTF-8"},
                                       **locked_down(**self.limits))
        c.reload()
        return c

    def warm(self) -> None:
        """Start the next verdict container in the background."""
        with self._lock:
            if self._warm is not None or self._thread is not None:
                return

            def start() -> None:
                try:
                    c = self._create()
                    with self._lock:
                        self._warm = c
                except BaseException as exc:  # reported when the container is asked for
                    with self._lock:
                        self._warm_error = exc

            self._thread = threading.Thread(target=start, daemon=True, name="verdict-warm")
            self._thread.start()

    def _take(self) -> Any:
        self.warm()
        assert self._thread is not None
        self._thread.join()
        with self._lock:
            c, err = self._warm, self._warm_error
            self._warm, self._warm_error, self._thread = None, None, None
        if err is not None:
            raise err
        return c

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            c, self._warm, self._thread = self._warm, None, None
        if c is not None:
            remove_container(c)

    # -- one check --------------------------------------------------------------------------------
    def run(self, write_tree: Callable[[Path], Any], seed: int, timeout: float) -> Verdict:
        """Write the tree (`write_tree(dest)`), run the pristine tests on it, and judge."""
        t0 = time.perf_counter()
        container = self._take()
        try:
            clear_dir(self.paths.check_tree)
            clear_dir(self.paths.check_out)
            tree = write_tree(self.paths.check_tree)
            prepare_tree(self.paths.check_tree, self.paths.pristine, self.protected)
            self._tamper = code_tamper(self.paths.check_tree, self.paths.pristine, self.protected)
            if os.geteuid() == 0:
                chown_tree(self.paths.check_tree, AGENT_UID, AGENT_GID)
                os.lchown(self.paths.check_out, AGENT_UID, AGENT_GID)
            self.checks += 1
            exit_code, timed_out, lingering = self._execute(container, seed, timeout)
        finally:
            threading.Thread(target=remove_container, args=(container,), daemon=True).start()
            self.warm()
        verdict = self._read(exit_code, timed_out)
        verdict.duration_ms = (time.perf_counter() - t0) * 1000
        verdict.lingering = lingering
        verdict.tree = tree if isinstance(tree, str) else None
        return verdict

    def _execute(self, container: Any, seed: int, timeout: float) -> tuple[int | None, bool, int]:
        api = self.client.api
        cmd = [f"{HARNESS}/verdict.sh", str(max(1, int(timeout))), str(seed), "--", self.test_command]
        exec_id = api.exec_create(container.id, cmd, user="agent", workdir="/workspace", stdin=False,
                                  stdout=False, stderr=False)["Id"]
        api.exec_start(exec_id, detach=True)
        deadline = time.monotonic() + timeout + 15
        info: dict[str, Any] = {}
        delay = 0.005
        while time.monotonic() < deadline:
            info = api.exec_inspect(exec_id)
            if not info.get("Running"):
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        hung = bool(info.get("Running", True))
        procs = _host_pids(container)
        lingering = max(0, len(procs) - 2 - (1 if hung else 0))
        # Stop everything in the container before a single byte of its output is read.
        kill_cgroup(container, lambda: _host_pids(container), set())
        try:
            container.kill()
        except docker.errors.APIError:
            pass
        exit_code = None if hung else info.get("ExitCode")
        timed_out = hung or exit_code == 137
        return exit_code, timed_out, lingering

    def _read(self, exit_code: int | None, timed_out: bool) -> Verdict:
        out = self.paths.check_out
        raw = safefs.read_regular(out, "out", REPORT_LIMIT) or b""
        self.last_evidence = read_evidence(out, exit_code, timed_out, self.py_files, self._tamper)
        return verdict_from(self.last_evidence, self.reference, head_tail(raw)[0])

    def set_reference(self, verdict: Verdict, source: str) -> bool:
        """Take a verdict's tests as the pristine suite, if it collected cleanly."""
        ref = reference_from(verdict, source)
        if ref is not None:
            self.reference = ref
        return ref is not None


def reference_from(verdict: Verdict, source: str) -> Reference | None:
    """The pristine suite from a verdict, unless its collection failed (a module that errored is a
    case without a test name) or it did not finish."""
    if verdict.timed_out or not verdict.cases or any(
            o == "error" and "::" not in c.strip(":") for c, o in verdict.cases.items()):
        return None
    return Reference(set(verdict.cases), {c for c, o in verdict.cases.items() if o == "skipped"}, source)


def python_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in Path(root).rglob("*.py") if not p.is_symlink()}


def _host_pids(container: Any) -> list[int]:
    try:
        return [int(x) for x in (cgroup_dir(container) / "cgroup.procs").read_text().split()]
    except (OSError, KeyError, TypeError, ValueError, Exception):
        return []
