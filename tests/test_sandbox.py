"""The sandbox holds every kind of hostile program: each stops with a stated reason, the test process lives on, and
nothing is left behind, no process and no file."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from agentic_lab import sandbox
from agentic_lab.sandbox import BWRAP, Limits, run_python

needs_bwrap = pytest.mark.skipif(not BWRAP, reason="bubblewrap is not installed (make system installs it as root)")


def processes_of(uids: range) -> list[int]:
    """The living processes of these users (a zombie has ended; it waits for the machine's init to reap it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid in uids and not sandbox._zombie(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture(autouse=True)
def nothing_left_behind(monkeypatch):
    """This test's runs draw their user ids from a range of their own and make their directories in a folder of
    their own (other test workers run sandboxes at the same time): after the test, neither holds anything. The
    folder is in the system's temporary directory, which a run's user may pass through (pytest's tmp_path is not)."""
    uids = range(1_200_000 + 1000 * (os.getpid() % 1000), 1_200_000 + 1000 * (os.getpid() % 1000 + 1))
    folder = Path(tempfile.mkdtemp(prefix="sandbox-test-", dir="/tmp"))
    folder.chmod(0o711)
    monkeypatch.setattr(sandbox, "RUN_UIDS", uids)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield
    assert not processes_of(uids), "a sandboxed process outlived its run"
    assert not list(folder.glob("sandbox-*")), "a run's directory was left behind"
    shutil.rmtree(folder)


@pytest.fixture(params=["util-linux", "in the child"])
def capped(request, monkeypatch):
    """Each way the child drops root and caps itself: util-linux's setpriv and prlimit, or, where they are missing
    (not Linux), setuid and setrlimit between fork and exec."""
    if request.param == "in the child":
        monkeypatch.setattr(sandbox, "PRLIMIT", None)
    elif not (sandbox.PRLIMIT and sandbox.SETPRIV):
        pytest.skip("util-linux's prlimit and setpriv are not installed")


def test_a_program_that_works_finishes_with_its_output():
    result = run_python("print(sum(range(10)))")
    assert result.status == "finished" and result.exit_code == 0 and result.stdout == "45\n" and result.stderr == ""
    assert result.observation().startswith("[finished]\n45")


@pytest.mark.parametrize("code, status, detail", [
    ("raise ValueError('bad input')", "error", "ValueError: bad input"),
    ("def f(:\n    pass", "error", "SyntaxError"),
    ("# -*- coding: ascii -*-\nprint('é')", "error", "SyntaxError"),                 # an encoding error
    ("input()", "error", "EOFError"),                                               # stdin is closed
    ("def f(): return f()\nf()", "error", "RecursionError"),
    ("import sys; sys.exit(3)", "error", "exit status 3"),
    ("while True: pass", "timeout", "CPU"),
    ("import time; time.sleep(60)", "timeout", "wall-clock"),
    ("x = bytearray(2 * 1024**3)", "memory", "MemoryError"),
    ("chunks = []\nwhile True: chunks.append(bytearray(10**7))", "memory", "MemoryError"),
    ("print('x' * 10**7)", "error", "more than 65,536 bytes"),                      # huge output
    ("import sys; sys.stderr.write('e' * 10**7)", "error", "more than 65,536 bytes"),
    ("open('big.bin', 'wb').write(bytes(10**7))", "error", "more than 65,536 bytes"),  # filling the disk
])
def test_each_kind_of_failure_stops_with_its_reason(code, status, detail, capped):
    result = run_python(code, Limits(cpu_seconds=1, wall_seconds=3))
    assert (result.status, detail in result.detail) == (status, True), result
    assert result.seconds < 5 and len(result.stdout) <= 65_536 and len(result.stderr) <= 65_536


def test_a_deep_recursion_in_c_is_stopped():
    result = run_python("import sys\nsys.setrecursionlimit(10**8)\ndef f(n): return f(n + 1)\nf(0)",
                        Limits(cpu_seconds=1, wall_seconds=3))
    assert result.status in ("killed", "timeout", "memory", "error") and result.exit_code != 0


@pytest.mark.parametrize("code", [
    "import os; os.fork()",
    "import subprocess; subprocess.run(['true'])",
    "import multiprocessing as m; p = m.Process(target=print); p.start(); p.join()",
    "import os\nwhile True: os.fork()",                                             # a fork bomb
])
def test_no_new_process_can_start(code, capped):
    result = run_python(code, Limits(cpu_seconds=1, wall_seconds=3))
    assert result.status == "error" and "Resource temporarily unavailable" in result.stderr, result


def test_the_program_runs_as_a_user_of_its_own_with_no_groups(capped):
    result = run_python("import os; print(os.getuid(), os.getgid(), os.getgroups())")
    uid, gid, groups = result.stdout.split(maxsplit=2)
    if os.getuid() == 0:
        assert int(uid) in sandbox.RUN_UIDS and gid == uid and groups.strip() == "[]", result
    else:
        assert int(uid) == os.getuid(), result


def test_a_daemon_that_detaches_dies_with_the_run():
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n"
            "    os._exit(0)\nprint('parent done')")
    result = run_python(code, Limits(processes=4))
    assert result.status == "finished" and "parent done" in result.stdout   # the fixture checks no one survived


def test_the_host_environment_is_not_visible(monkeypatch):
    monkeypatch.setenv("API_TOKEN", "secret-4242")
    result = run_python("import os; print(dict(os.environ))")
    assert "secret-4242" not in result.stdout and "API_TOKEN" not in result.stdout


def test_signalling_the_parent_or_the_group_harms_no_process_outside():
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        result = run_python("import os, signal\nfor pid in (os.getppid(), 1, 0, -1):\n"
                            "    try:\n        os.kill(pid, signal.SIGKILL)\n"
                            "    except OSError as e:\n        print(e)\nprint('still here')")
        assert result.status in ("finished", "killed") and bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


@needs_bwrap
def test_files_outside_its_directory_can_be_neither_read_nor_written_nor_deleted(tmp_path):
    host_file = tmp_path / "precious.txt"
    host_file.write_text("keep me")
    code = (f"import os\nfor action in (lambda: open({str(host_file)!r}).read(), lambda: os.remove({str(host_file)!r}),"
            f" lambda: open('/usr/evil', 'w'), lambda: open({str(Path.cwd() / 'evil')!r}, 'w'),"
            " lambda: open('/etc/passwd').read()):\n"
            "    try:\n        action()\n        print('DID IT')\n"
            "    except OSError as e:\n        print(type(e).__name__)\n"
            "open('mine.txt', 'w').write('ok'); print(open('mine.txt').read())")
    result = run_python(code)
    assert result.status == "finished" and "DID IT" not in result.stdout and result.stdout.endswith("ok\n"), result
    assert host_file.read_text() == "keep me" and not (Path.cwd() / "evil").exists() and not Path("/usr/evil").exists()


@needs_bwrap
def test_there_is_no_network():
    code = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\n    print('CONNECTED')\n"
            "except OSError as e:\n    print(type(e).__name__)")
    result = run_python(code)
    assert result.status == "finished" and "CONNECTED" not in result.stdout


@needs_bwrap
def test_no_host_process_is_visible():
    result = run_python("import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))")
    assert result.stdout == "1\n", result.stdout   # the interpreter alone, as the namespace's first process


def test_the_caller_survives_many_hostile_runs_in_a_row():
    results = [run_python(code, Limits(cpu_seconds=1, wall_seconds=2))
               for code in ("import os\nwhile True: os.fork()", "x = ' ' * 10**10", "while True: print('y')")]
    assert [r.status for r in results] == ["error", "memory", "error"]
    assert run_python("print('fine')").stdout == "fine\n"
