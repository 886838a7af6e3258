"""Run one program and measure it from outside: wall time and the peak resident memory of that process alone
(wait4's rusage is the child's own, unlike RUSAGE_CHILDREN, which is the maximum over every child so far)."""
import os
import statistics
import subprocess
import tempfile
import time


class StepFailed(Exception):
    """A step failed; str() is the one-line reason."""


def run(argv, env=None, cwd=None):
    """Run argv; return dict(rc, stdout, stderr, wall_s, rss_bytes). stdout/stderr go through files so that
    neither pipe can fill up while we wait."""
    argv = [str(a) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        except OSError as e:
            return {"rc": 127, "stdout": "", "stderr": f"{argv[0]}: {e.strerror}", "wall_s": 0.0, "rss_bytes": 0}
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        return {"rc": p.returncode, "stdout": out.read().decode(), "stderr": err.read().decode(),
                "wall_s": wall, "rss_bytes": usage.ru_maxrss * 1024}


def last_line(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "(no message)"


def check(res, what):
    """Raise StepFailed naming `what` and the program's last stderr line unless it exited 0."""
    if res["rc"] != 0:
        raise StepFailed(f"{what}: exit {res['rc']}: {last_line(res['stderr'])}")
    return res


def more(done, elapsed_s, last_s, repeats, budget_s):
    """Whether to start another repeat: fewer than `repeats` so far, and one more run like the last would
    keep this system's time on this workload within `budget_s` (so a slow system runs once or twice)."""
    return done < repeats and elapsed_s + last_s <= budget_s


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
