"""Run model-written Python where it cannot hurt anything: the code agents' sandbox (notebook 14).

A program the model wrote is untrusted: it may loop forever, eat memory, fork, fill the disk, read secrets, open
connections or try to kill its parent, by accident or because RL found it paid. `run_python(code)` runs it in a
separate process and always returns a `RunResult` (how it stopped, its exit status, its output, its time), which
becomes the agent's observation. Layers, each for what the others miss:

1. **bubblewrap** (`bwrap`, what Flatpak runs apps in), where installed: new user, PID, network, IPC and UTS
   namespaces, and a filesystem of its own: `/usr` read-only (the interpreter and its standard library), a fresh
   `/tmp` and `/proc`, and the run's throw-away directory as `/box`, its working directory and `HOME`. Nothing else
   of the host is there to read or write, no network but loopback, no host process to see or signal. The program
   is the namespace's first process (`--as-pid-1`): when it ends, the kernel ends every process it started.
2. **resource limits** (set in the child before the program starts, by util-linux's `prlimit` or `setrlimit`): CPU
   seconds, address space, the size of any file it writes (its output included), open files, processes, no core dumps.
3. **an unprivileged user of its own**: started by root, the child first becomes (`setpriv`) a user id drawn for this
   run alone, which owns nothing on the host; the kernel does not apply the process limit to root, and counts it per
   user, so a user per run makes "no new processes" exact even with runs side by side.
4. **the rest by hand**: an environment with none of the host's variables, stdin closed, output cut at
   `Limits.output_bytes`, a wall-clock timeout, and the whole process group killed when the run ends.

Without bubblewrap (say, macOS) only 2-4 hold: the program can then read what the user can read and reach the
network. `isolation()` says which applies; `make setup` installs bubblewrap where it can. This is the shape of real
code-RL harnesses (a process per run with limits, as in OpenAI's human-eval, whose in-process guard says plainly that
it is not a sandbox; a namespace jail such as bubblewrap or nsjail around it), small enough to read in one sitting.
"""
from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

BWRAP = shutil.which("bwrap")
RUN_UIDS = range(100_000, 1_100_000)   # where root draws each run's user id: no account has one
OWN_PROCESSES = 2 if BWRAP else 1      # bubblewrap and the interpreter


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 2          # CPU time; SIGXCPU past it
    wall_seconds: float = 5.0     # real time, sleeping included; killed past it
    memory_mb: int = 256          # address space of each process
    output_bytes: int = 65_536    # stdout, stderr and any file it writes, each
    processes: int = 0            # processes the program may start (subprocesses, forks)
    open_files: int = 64


@dataclass(frozen=True)
class RunResult:
    status: str          # "finished", "error" (an exception, a non-zero exit), "timeout", "memory" or "killed"
    exit_code: int | None  # the program's exit status; None when a signal or the timeout ended it
    stdout: str
    stderr: str
    seconds: float       # wall-clock
    detail: str = ""     # why it stopped, in words, when it did not finish

    def observation(self, limit: int = 600) -> str:
        """What the agent reads: how it stopped, then its output (the end of stderr, where a traceback's cause is)."""
        head = "finished" if self.status == "finished" else f"{self.status}: {self.detail}"
        text = f"[{head}]\n{self.stdout[:limit]}"
        if self.stderr:
            text += f"\n[stderr]\n{self.stderr[-limit:]}"
        return text.rstrip()


def isolation() -> str:
    """Which layers `run_python` applies on this machine."""
    return ("bubblewrap namespaces + resource limits" if BWRAP else
            "resource limits only: no filesystem or network isolation, and run as a user other than root, a process"
            " that detaches itself may outlive the run (install bubblewrap)")


def interpreter() -> str:
    """The Python the sandbox runs: the system's under /usr if there is one (bubblewrap shows only /usr), else this
    one's. Model-written code gets the standard library, no site-packages."""
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else os.path.realpath(sys.executable)


def _pids_of(uid: int) -> list[int]:
    """The processes `uid` runs now."""
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:  # the process ended while we looked
        return None


def _zombie(pid: int) -> bool:
    """Has `pid` died, waiting only to be reaped? A namespace's first process, orphaned, waits for the machine's
    init, which may take a second: it holds nothing, so the run need not wait for it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True   # gone while we looked


def _limits(limits: Limits, nproc: int) -> dict[int, tuple[int, int]]:
    """The caps a run starts under, (soft, hard) by resource; every process it starts inherits them."""
    memory = limits.memory_mb * 2**20
    return {resource.RLIMIT_CPU: (limits.cpu_seconds, limits.cpu_seconds + 1),
            resource.RLIMIT_AS: (memory, memory),
            resource.RLIMIT_FSIZE: (limits.output_bytes, limits.output_bytes),
            resource.RLIMIT_NOFILE: (limits.open_files, limits.open_files),
            resource.RLIMIT_NPROC: (nproc, nproc),
            resource.RLIMIT_CORE: (0, 0)}


# util-linux's names for the caps above, as `prlimit` takes them
PRLIMIT_OPTIONS = {resource.RLIMIT_CPU: "--cpu", resource.RLIMIT_AS: "--as", resource.RLIMIT_FSIZE: "--fsize",
                   resource.RLIMIT_NOFILE: "--nofile", resource.RLIMIT_NPROC: "--nproc", resource.RLIMIT_CORE: "--core"}
SETPRIV, PRLIMIT = shutil.which("setpriv"), shutil.which("prlimit")


def _drop_root_and_cap(limits: Limits, uid: int | None, nproc: int
                       ) -> tuple[list[str], Callable[[], None] | None]:
    """How the child drops root (to `uid`, when given) and caps itself before the program starts: (a command prefix,
    a function for the child to call between fork and exec). Where util-linux is (Linux), the prefix does it:
    `setpriv` drops root, `prlimit` sets the caps, each then exec's the next, and Python may start the child with
    vfork, about 7 ms, where a function between fork and exec makes it copy this whole process first (40 ms or more
    with a model loaded: a code agent's run costs half as much again). Elsewhere the function does the same."""
    caps = _limits(limits, nproc)
    if PRLIMIT and (uid is None or SETPRIV):
        drop = [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
        return drop + [PRLIMIT, *(f"{PRLIMIT_OPTIONS[which]}={soft}:{hard}" for which, (soft, hard) in caps.items()),
                       "--"], None

    def apply() -> None:
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        for which, value in caps.items():
            resource.setrlimit(which, value)
    return [], apply


def _command(box: str, script: str) -> list[str]:
    python = [interpreter(), "-I", "-S", "-B"]  # isolated: no PYTHON* variables, no user or site packages
    if not BWRAP:
        return python + [script]
    usr = ["--ro-bind", "/usr", "/usr"] + [a for name in ("bin", "lib", "lib64", "sbin") if os.path.islink(f"/{name}")
                                          for a in ("--symlink", os.readlink(f"/{name}"), f"/{name}")]
    if not python[0].startswith("/usr/"):     # an interpreter elsewhere: show its installation, read-only
        prefix = sys.base_prefix
        usr += ["--ro-bind", prefix, prefix]
    return [BWRAP, *usr, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", box, "/box",
            "--chdir", "/box", "--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--setenv", "HOME", "/box", "--setenv", "PATH", "/usr/bin", "--setenv", "LANG", "C.UTF-8",
            *python, "/box/" + os.path.basename(script)]


def _stopped(code: int | None, stderr: str, limits: Limits, timed_out: bool, cut: bool, seconds: float
             ) -> tuple[str, int | None, str]:
    """(status, exit status, detail) from how the process ended (`cut`: it wrote past the output limit). bubblewrap
    reports a signal as 128 + its number."""
    if timed_out:
        return "timeout", None, f"ran past {limits.wall_seconds:g} s of wall-clock time"
    number = -code if code is not None and code < 0 else (code - 128 if BWRAP and code and code > 128 else None)
    # Past the soft CPU limit the kernel sends SIGXCPU, which the namespace's first process does not receive; past
    # the hard one, a second later, SIGKILL. Nothing else here sends SIGKILL to a run that has had that much time.
    if number == signal.SIGXCPU or (number == signal.SIGKILL and seconds >= limits.cpu_seconds):
        return "timeout", None, f"used more than {limits.cpu_seconds} s of CPU"
    if number == signal.SIGXFSZ:   # Python ignores the signal and raises instead (below); other programs die
        return "killed", None, f"wrote more than {limits.output_bytes:,} bytes to one file or stream"
    if number is not None:
        return "killed", None, f"ended by signal {signal.Signals(number).name}"
    if code == 0:
        return "finished", 0, ""
    if cut:                        # EFBIG, Python's "File too large": the file size limit
        return "error", code, f"wrote more than {limits.output_bytes:,} bytes to one file or stream"
    last = stderr.strip().splitlines()[-1][:200] if stderr.strip() else f"exit status {code}"
    return ("memory" if "MemoryError" in last else "error"), code, last


def run_python(code: str, limits: Limits = Limits()) -> RunResult:
    """Run `code` as a script in the sandbox and say how it went; never raises for anything the code does."""
    root = os.getuid() == 0
    uid = random.SystemRandom().choice(RUN_UIDS) if root else os.getuid()
    # The process limit counts every process of the user: a fresh one has none, a learner's own user has many.
    nproc = OWN_PROCESSES + limits.processes + (0 if root else len(_pids_of(uid)))
    with tempfile.TemporaryDirectory(prefix="sandbox-") as work:
        box, streams = Path(work, "box"), Path(work, "streams")   # the program sees box; streams stays ours
        box.mkdir()
        streams.mkdir(mode=0o700)
        if root:
            os.chmod(work, 0o711)            # the run's user may pass through to box, not list or touch the rest
            os.chown(box, uid, uid)
        script = box / "main.py"
        script.write_text(code)
        started, timed_out = time.perf_counter(), False
        with open(streams / "out", "wb") as out, open(streams / "err", "wb") as err:
            prefix, in_child = _drop_root_and_cap(limits, uid if root else None, nproc)
            process = subprocess.Popen(prefix + _command(str(box), str(script)), stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=err, cwd=box,
                                       env={"PATH": "/usr/bin", "LANG": "C.UTF-8", "HOME": str(box)},
                                       preexec_fn=in_child, start_new_session=True)
            try:
                returncode = process.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out, returncode = True, None
            finally:
                _end_run(process, uid if root else None)
        seconds = time.perf_counter() - started
        stdout, stderr = (_read(streams / name, limits.output_bytes) for name in ("out", "err"))
        cut = any((streams / name).stat().st_size >= limits.output_bytes for name in ("out", "err")) or \
            "[Errno 27]" in stderr[-300:]
    status, exit_code, detail = _stopped(returncode, stderr, limits, timed_out, cut, seconds)
    return RunResult(status, exit_code, stdout, stderr, seconds, detail)


def _end_run(process: subprocess.Popen, uid: int | None) -> None:
    """Kill the run's process group and reap it. Processes that left the group (bubblewrap's namespace has its own
    session, a daemon calls setsid) die with the PID namespace's first process, a moment later; a run's own user id
    (`uid`, as root) lets us wait for that moment, and kill anything still there."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    deadline = time.monotonic() + 2.0
    while uid is not None and (left := [pid for pid in _pids_of(uid) if not _zombie(pid)]) and \
            time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)


def _read(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        return f.read(limit).decode("utf-8", errors="replace")

