"""The real Docker sandbox: isolation, limits, and a shell that survives what agents do."""
import secrets

import pytest

from testbed.sandbox.docker import DockerSandbox
from testbed.sandbox.workspace import prepare_workspace, remove_workspace
from testbed.scenario import PROJECT_ROOT

pytestmark = pytest.mark.docker
TEMPLATE = PROJECT_ROOT / "sandboxes" / "intervals"


@pytest.fixture(scope="module")
def sandbox(image, tmp_path_factory):
    run_id = "test-sandbox-" + secrets.token_hex(3)
    paths = prepare_workspace(TEMPLATE, run_id, ["tests"], root=tmp_path_factory.mktemp("work"))
    sb = DockerSandbox(image, paths, run_id, ["tests"], pids=128, memory_mb=512)
    sb.start()
    yield sb
    sb.close()
    remove_workspace(paths)


def test_runs_as_non_root_in_the_workspace(sandbox):
    res = sandbox.exec("id -u; pwd")
    assert res.output.split() == ["1000", "/workspace"]


def test_has_no_network(sandbox):
    res = sandbox.exec("python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)\"")
    assert res.exit_code != 0
    assert "Network is unreachable" in res.output or "unreachable" in res.output.lower()
    res = sandbox.exec("ls /sys/class/net")
    assert res.output.split() == ["lo"]


def test_cannot_write_protected_tests(sandbox):
    res = sandbox.exec("echo 'assert True' >> tests/test_daterange.py")
    assert res.exit_code != 0 and "Read-only file system" in res.output
    res = sandbox.exec("rm -f tests/test_daterange.py; sed -i 's/assert/pass #/' tests/test_daterange.py")
    assert "Read-only file system" in res.output
    assert (sandbox.paths.pristine / "tests" / "test_daterange.py").read_text() == \
        (TEMPLATE / "tests" / "test_daterange.py").read_text()
    assert sandbox.exec("test -f tests/test_daterange.py").exit_code == 0


def test_shell_keeps_state_between_commands(sandbox):
    sandbox.exec("cd intervals && export TB_PROBE=42")
    res = sandbox.exec("pwd; echo $TB_PROBE")
    assert res.output.split() == ["/workspace/intervals", "42"]
    sandbox.exec("cd /workspace")


def test_timeout_kills_the_command_not_the_run(sandbox):
    res = sandbox.exec("sleep 1000", timeout=2)
    assert res.timed_out and res.exit_code is None and "timed out" in res.output
    assert 1500 < res.duration_ms < 10000
    assert sandbox.exec("echo alive").output.strip() == "alive"


def test_fork_bomb_is_contained(sandbox):
    res = sandbox.exec("bomb() { bomb | bomb & }; bomb", timeout=4)
    assert res.exit_code is not None or res.timed_out
    after = sandbox.exec("echo survived; ps -u agent -o pid= | wc -l", timeout=10)
    assert after.output.split()[0] == "survived"
    assert int(after.output.split()[1]) < 10  # the bomb's processes are gone


def test_huge_output_keeps_head_and_tail(sandbox):
    res = sandbox.exec("python3 -c \"import sys; sys.stdout.write('HEAD' + 'x' * 50_000_000 + 'TAIL')\"",
                       timeout=30)
    assert res.truncated and res.output_bytes == 50_000_008
    assert res.output.startswith("HEAD") and res.output.endswith("TAIL")
    assert "bytes of output omitted" in res.output
    assert len(res.output) < 20_000


def test_exit_in_a_command_restarts_the_shell(sandbox):
    res = sandbox.exec("echo before; exit 7")
    assert res.shell_restarted and "before" in res.output and "restarted" in res.output
    assert sandbox.exec("echo again").output.strip() == "again"


def test_memory_hog_is_contained(sandbox):
    res = sandbox.exec("python3 -c \"x = bytearray(2_000_000_000)\"", timeout=30)
    assert res.exit_code != 0
    assert sandbox.exec("echo ok").output.strip() == "ok"


def test_a_steady_background_process_survives_later_commands(sandbox):
    sandbox.exec("nohup sleep 300 >/dev/null 2>&1 &")
    for _ in range(3):
        sandbox.exec("true")
    assert sandbox.exec("pgrep -x sleep -u agent | wc -l").output.strip() == "1"
    sandbox.exec("pkill -x sleep; true")


def test_the_agent_cannot_stop_its_own_container(sandbox):
    sandbox.exec("kill -9 -1")  # bash's builtin spares the shell itself
    res = sandbox.exec("/bin/kill -9 -1")  # this one kills the shell too
    assert res.shell_restarted
    sandbox.exec("pkill sleep; killall -9 sleep 2>/dev/null; true")
    sandbox.container.reload()
    assert sandbox.container.status == "running"
    assert sandbox.exec("echo still here").output.strip() == "still here"
