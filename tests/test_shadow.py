"""The shadow git records every step, even when the agent destroys its own repository."""
import secrets

import pytest

from testbed.sandbox.docker import DockerSandbox
from testbed.sandbox.shadow import ShadowRepo
from testbed.sandbox.workspace import prepare_workspace, remove_workspace
from testbed.scenario import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "sandboxes" / "intervals"


@pytest.mark.docker
def test_every_step_is_committed_even_after_rm_rf_git(image, tmp_path):
    run_id = "test-shadow-" + secrets.token_hex(3)
    paths = prepare_workspace(TEMPLATE, run_id, ["tests"], root=tmp_path / "work")
    shadow = ShadowRepo(tmp_path / "shadow.git", paths.workspace)
    initial = shadow.init()
    sb = DockerSandbox(image, paths, run_id, ["tests"])
    sb.start()
    try:
        commits = [initial]
        steps = ["echo '# note' >> intervals/daterange.py",
                 "rm -rf .git",
                 "echo 'x = 1' > new_module.py",
                 "rm -rf * .gitignore 2>/dev/null; ls",
                 "true"]
        snaps = []
        for cmd in steps:
            sb.exec(cmd)
            snaps.append(shadow.snapshot(cmd))
            commits.append(snaps[-1].commit)
    finally:
        sb.close()
    assert snaps[0].changed and snaps[0].files[0].path == "intervals/daterange.py"
    assert snaps[0].insertions == 1 and snaps[0].workspace_git is True
    assert snaps[1].workspace_git is False and snaps[1].workspace_head is None
    assert not snaps[1].changed  # .git is not part of the recorded tree
    assert snaps[2].changed and snaps[2].files[0].status == "A"
    # everything but the read-only tests is gone
    deleted = {f.path for f in snaps[3].files if f.status == "D"}
    assert "intervals/daterange.py" in deleted and "README.md" in deleted
    assert not any(p.startswith("tests/") for p in deleted)
    assert not snaps[4].changed and snaps[4].commit == snaps[3].commit
    # history is intact and readable after the agent wiped its own repository
    assert "# note" in shadow.show_file(snaps[0].commit, "intervals/daterange.py")
    assert "new_module.py" in shadow.diff(snaps[1].commit, snaps[2].commit)
    log = shadow.git("rev-list", "main").split()
    assert len(log) == 4  # initial + the 3 steps that changed the tree
    remove_workspace(paths)


def test_agent_gitignore_cannot_hide_files(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("a\n")
    shadow = ShadowRepo(tmp_path / "shadow.git", ws)
    shadow.init()
    (ws / ".gitignore").write_text("*\n")
    (ws / "b.py").write_text("b\n")
    snap = shadow.snapshot("s")
    assert {f.path for f in snap.files} == {".gitignore", "b.py"}


def _one_off(repo: ShadowRepo, old: str, new: str):
    from testbed.sandbox.shadow import parse_raw_numstat
    return parse_raw_numstat(repo.git("diff-tree", "-r", "--no-renames", "--raw", "--numstat", "-z",
                                      old, new, strip=False))


def test_the_long_lived_differ_says_what_a_one_off_git_diff_tree_says(tmp_path):
    """Edits, additions, deletions, binary files, odd names (a newline, a tab, the differ's own
    end marker as a file name) and empty diffs: the persistent `git diff-tree --stdin` and a fresh
    process agree on every step; killed, it is replaced by the one-off call."""
    import os
    import random
    work = tmp_path / "w"
    work.mkdir()
    (work / "a.py").write_text("x = 1\n")
    repo = ShadowRepo(tmp_path / "s.git", work)
    commits = [repo.init()]
    rng = random.Random(7)
    names = ["a.py", "b.txt", "dir/c.py", "dir/sub/d.bin", "odd\nname", "tab\tname", "end-of-diff\n"]
    for step in range(40):
        name = rng.choice(names)
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        action = rng.random()
        if action < 0.2 and path.exists():
            path.unlink()
        elif name.endswith(".bin"):
            path.write_bytes(os.urandom(64) + b"\0")
        elif action < 0.3:
            pass  # nothing changes: the diff is empty
        else:
            with open(path, "a") as fh:
                fh.write("".join(f"line {rng.randrange(5)}\n" for _ in range(rng.randrange(1, 4))))
        snap = repo.snapshot(f"step {step}")
        assert repo.changes(commits[-1], snap.commit) == _one_off(repo, commits[-1], snap.commit)
        if step == 20:
            dead = repo._differ.proc
            dead.kill()  # the differ dies: the next diff falls back, the one after starts a new one
            dead.wait()
        if step == 23:
            assert repo._differ is not None and repo._differ.proc is not dead
        commits.append(snap.commit)
    assert repo.changes(commits[0], commits[-1]) == _one_off(repo, commits[0], commits[-1])
    repo.close()


def test_a_step_that_changed_nothing_reuses_the_tree_and_a_swapped_file_is_seen(tmp_path):
    """No file hashed and none gone: the last tree, with no object written. A file replaced by
    another with the same size and times (a new inode) is hashed again."""
    import os
    import time
    work = tmp_path / "w"
    (work / "pkg").mkdir(parents=True)
    (work / "pkg" / "m.py").write_text("a = 1\n")
    repo = ShadowRepo(tmp_path / "s.git", work)
    first = repo.init()
    old = time.time_ns() - 5_000_000_000
    os.utime(work / "pkg" / "m.py", ns=(old, old))
    repo.snapshot("settle")  # stat changed (utime): hashed again, same content
    objects = sorted((tmp_path / "s.git" / "objects").rglob("*"))
    same = repo.snapshot("nothing")
    assert not same.changed and same.commit == repo.head
    assert sorted((tmp_path / "s.git" / "objects").rglob("*")) == objects
    st = os.stat(work / "pkg" / "m.py")
    (work / "pkg" / "n.py").write_text("b = 2\n")
    os.replace(work / "pkg" / "n.py", work / "pkg" / "m.py")
    os.utime(work / "pkg" / "m.py", ns=(st.st_atime_ns, st.st_mtime_ns))
    swapped = repo.snapshot("swapped")
    assert swapped.changed and [f.path for f in swapped.files] == ["pkg/m.py"]
    assert repo.show_file(swapped.commit, "pkg/m.py") == "b = 2\n" and first
    repo.close()
