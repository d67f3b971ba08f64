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
