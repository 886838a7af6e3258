"""Shared helpers for the Python tests (ctest runs them with OOC_BIN, HDF5_PLUGIN_PATH and OOC_PYTHON set).

Kept small on purpose: locate a tool, run it, check the one-line error contract, open HDF5 files.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("OOC_BIN") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build")
PLUGIN_PATH = os.environ.get("HDF5_PLUGIN_PATH") or os.path.join(BIN, "plugins")
PYTHON = os.environ.get("OOC_PYTHON") or sys.executable
# h5py and h5dump need the zstd filter plugin to read our files; set it before h5py is first imported.
os.environ["HDF5_PLUGIN_PATH"] = PLUGIN_PATH

DEFAULT_TIMEOUT = 120
# Built with sanitizers (set by tests/CMakeLists.txt): resident memory is not the program's own.
SANITIZED = bool(os.environ.get("OOC_SANITIZED"))


def tool(name):
    """Absolute path of a built tool, e.g. tool('chunkgen')."""
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{path}: not built (set OOC_BIN to the build directory)")
    return path


def command(argv):
    """argv as strings, argv[0] (a tool name or a path) resolved to the built tool."""
    argv = [str(a) for a in argv]
    if os.sep not in argv[0]:
        argv[0] = tool(argv[0])
    return argv


def run(argv, timeout=DEFAULT_TIMEOUT, env=None, **kwargs):
    """Run argv (argv[0] a tool name or a path); return (status, stdout, stderr) as text."""
    p = subprocess.run(command(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                       env=env, **kwargs)
    return p.returncode, p.stdout, p.stderr


def run_into_full(argv, timeout=DEFAULT_TIMEOUT):
    """Run argv with its stdout on /dev/full, which takes no byte; return (status, stderr)."""
    with open("/dev/full", "w") as full:
        p = subprocess.run(command(argv), stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
    return p.returncode, p.stderr


def chunkgen(*args, **kwargs):
    """run(['chunkgen', *args]); every argument is str()-ed."""
    return run(["chunkgen", *args], **kwargs)


def error_lines(stderr):
    """Non-blank stderr lines (a sanitizer report counts too: it must make the test fail)."""
    return [line for line in stderr.splitlines() if line.strip()]


def assert_one_error(tc, program, status, stderr, expected_status, *needles):
    """Assert exit status, and that stderr is exactly one line 'PROGRAM: error: ...' containing every needle."""
    tc.assertEqual(status, expected_status, f"exit status; stderr was:\n{stderr}")
    lines = error_lines(stderr)
    tc.assertEqual(len(lines), 1, f"expected exactly one stderr line, got:\n{stderr}")
    tc.assertRegex(lines[0], r"^" + re.escape(program) + r": error: \S")
    for needle in needles:
        tc.assertIn(needle, lines[0])
    return lines[0]


# Two rows whose best two squared distances are this close (relative) may go either way: rounding, not a bug.
TIE_REL = 1e-9


def assert_nearest_centres(tc, X, C, labels, inertia, what="labels"):
    """numpy as the oracle: every label is a nearest centre of C, differences in float64 (a fit of float32
    data saves centres float32 holds; rows whose two nearest are within TIE_REL excepted), and inertia is the
    sum of those distances (rel 1e-9). Returns the number of such near ties."""
    import numpy as np
    X = np.asarray(X)
    W = np.asarray(C, dtype=np.float64)
    X64 = X.astype(np.float64)
    D = np.stack([((X64 - c) ** 2).sum(axis=1) for c in W], axis=1)  # no n x k x d temporary
    best = D.argmin(axis=1)
    if len(W) > 1:
        part = np.partition(D, 1, axis=1)
        ties = (part[:, 1] - part[:, 0]) <= TIE_REL * np.maximum(part[:, 1], 1e-300)
    else:
        ties = np.zeros(len(X), bool)
    labels = np.asarray(labels)
    tc.assertTrue(((labels >= 0) & (labels < len(W))).all(), f"{what}: a label outside [0, k)")
    wrong = np.flatnonzero((labels != best) & ~ties)
    tc.assertEqual(len(wrong), 0, f"{what}: {len(wrong)} rows not labelled with their nearest centre, e.g. rows "
                                  f"{wrong[:5]}: labels {labels[wrong[:5]]}, nearest {best[wrong[:5]]}")
    expected = D[np.arange(len(X)), labels].sum()
    tc.assertLessEqual(abs(inertia - expected), 1e-9 * expected, f"{what}: inertia {inertia} vs numpy's {expected}")
    return int(ties.sum())


def module_tempdir(prefix):
    """A temporary directory for a test module's files, made before its tests and removed after them:
    `setUpModule, tearDownModule, tmp = T.module_tempdir("name_")`. tmp(name) is a path in it; tmp() the
    directory itself."""
    made = []

    def set_up():
        made.append(tempfile.TemporaryDirectory(prefix=prefix))

    def tear_down():
        made.pop().cleanup()

    def path(name=None):
        return made[-1].name if name is None else os.path.join(made[-1].name, name)

    return set_up, tear_down, path


class TempDirTest(unittest.TestCase):
    """A test with a fresh directory of its own: self.dir, and self.path(name) in it."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        # A cleanup, not tearDown: cleanups run last-in first-out, so what a test mounts inside goes first.
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def path(self, name):
        return os.path.join(self.dir, name)

    def mount_tmpfs(self, options):
        """A tmpfs (mount options, e.g. "size=1m") at self.dir/mnt, unmounted at cleanup; skips without root."""
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        mnt = self.path("mnt")
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", mnt], capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs: {p.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", mnt], capture_output=True)
        return mnt


def h5py():
    """The h5py module, imported after HDF5_PLUGIN_PATH is set."""
    import h5py as module
    return module


def open_h5(path, mode="r"):
    return h5py().File(path, mode)


def filters(dset):
    """[(filter id, flags, cd_values tuple, name)] of an h5py dataset, in pipeline order."""
    plist = dset.id.get_create_plist()
    return [plist.get_filter(i) for i in range(plist.get_nfilters())]


def listdir(path):
    """Sorted directory listing, hidden files included."""
    return sorted(os.listdir(path))


# An LD_PRELOAD library that acts at the moments outputs are committed. At the process's first fsync() (after
# every pass, when the outputs are synced just before they are renamed into place) it raises the signal
# OOC_TEST_FSYNC_SIGNAL, or creates the file OOC_TEST_FSYNC_CREATE (a destination that appears during the
# run). At its N-th rename (OOC_TEST_RENAME_SIGNAL = "N:SIGNAL") it raises the signal twice, as a user
# pressing Ctrl-C twice in the middle of the renames would. At its first fflush(stdout) (the results are
# out, the renames come next) it raises OOC_TEST_FFLUSH_SIGNAL. The renames it counts (rename and
# renameat2 calls) listed in OOC_TEST_RENAME_FAIL ("2" or "2,3") fail with EIO; with OOC_TEST_NO_EXCHANGE
# set, renameat2 refuses RENAME_EXCHANGE as NFS does (EINVAL). With OOC_TEST_HDF5_STUCK=N, H5Dread never
# returns from its N-th call on, as HDF5 1.10 does on some damaged files.
_AT_FIRST_FSYNC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int fsync(int fd)
{
    static int done;
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const char *sig = getenv("OOC_TEST_FSYNC_SIGNAL"), *create = getenv("OOC_TEST_FSYNC_CREATE");
    if (!done++ && sig)
        raise(atoi(sig));
    if (done == 1 && create)
        close(open(create, O_WRONLY | O_CREAT | O_EXCL, 0644));
    return real(fd);
}
int fflush(FILE *f)
{
    static int done;
    const char *sig = getenv("OOC_TEST_FFLUSH_SIGNAL");
    if (f == stdout && !done++ && sig)
        raise(atoi(sig));
    return ((int (*)(FILE *))dlsym(RTLD_NEXT, "fflush"))(f);
}
int H5Dread(long long d, long long mem_type, long long mem_space, long long file_space, long long plist, void *buf)
{
    static int calls;
    const char *stuck = getenv("OOC_TEST_HDF5_STUCK");
    while (stuck && __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) >= atoi(stuck))
        pause();
    return ((int (*)(long long, long long, long long, long long, long long, void *))dlsym(RTLD_NEXT, "H5Dread"))(
        d, mem_type, mem_space, file_space, plist, buf);
}
/* The rename's number; -1 when this one is to fail. */
static int at_rename(void)
{
    static int count;
    int n = 0, sig = 0;
    char this[16], list[64];
    const char *when = getenv("OOC_TEST_RENAME_SIGNAL"), *fail = getenv("OOC_TEST_RENAME_FAIL");
    if (when && sscanf(when, "%d:%d", &n, &sig) == 2 && count + 1 == n) {
        raise(sig);
        raise(sig);
    }
    snprintf(this, sizeof this, ",%d,", ++count);
    snprintf(list, sizeof list, ",%s,", fail ? fail : "");
    return strstr(list, this) ? -1 : count;
}
int rename(const char *a, const char *b)
{
    if (at_rename() < 0) {
        errno = EIO;
        return -1;
    }
    return ((int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename"))(a, b);
}
int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
    int failing = at_rename() < 0;
    if (failing || ((flags & RENAME_EXCHANGE) && getenv("OOC_TEST_NO_EXCHANGE"))) {
        errno = failing ? EIO : EINVAL;
        return -1;
    }
    return ((int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2"))(da, a, db, b,
                                                                                                 flags);
}
"""


def at_first_fsync(directory, signo=None, create=None, rename_signal=None, fflush_signal=None, rename_fail=None,
                   no_exchange=False, hdf5_stuck=False):
    """An environment for run(env=...) in which, at its first fsync(), the program gets signal signo or
    the file create appears; or, with rename_signal = (N, SIGNAL), it gets SIGNAL twice at its N-th rename;
    or it gets fflush_signal at its first fflush(stdout); or the renames numbered in rename_fail fail (EIO);
    with no_exchange, renames cannot exchange (as on NFS); with hdf5_stuck (True, or N), HDF5's reads never
    return (from the N-th on)."""
    src, lib = os.path.join(directory, "at_first_fsync.c"), os.path.join(directory, "at_first_fsync.so")
    if not os.path.exists(lib):
        with open(src, "w") as f:
            f.write(_AT_FIRST_FSYNC)
        subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src, "-ldl"], check=True)
        os.unlink(src)
    env = dict(os.environ, LD_PRELOAD=lib)
    env.pop("OOC_TEST_FSYNC_SIGNAL", None)
    env.pop("OOC_TEST_FSYNC_CREATE", None)
    env.pop("OOC_TEST_RENAME_SIGNAL", None)
    env.pop("OOC_TEST_FFLUSH_SIGNAL", None)
    env.pop("OOC_TEST_RENAME_FAIL", None)
    env.pop("OOC_TEST_NO_EXCHANGE", None)
    env.pop("OOC_TEST_HDF5_STUCK", None)
    if hdf5_stuck:
        env["OOC_TEST_HDF5_STUCK"] = str(int(hdf5_stuck))
    if rename_fail is not None:
        env["OOC_TEST_RENAME_FAIL"] = ",".join(map(str, rename_fail))
    if no_exchange:
        env["OOC_TEST_NO_EXCHANGE"] = "1"
    if fflush_signal is not None:
        env["OOC_TEST_FFLUSH_SIGNAL"] = str(int(fflush_signal))
    if rename_signal is not None:
        env["OOC_TEST_RENAME_SIGNAL"] = "%d:%d" % (rename_signal[0], int(rename_signal[1]))
    if signo is not None:
        env["OOC_TEST_FSYNC_SIGNAL"] = str(int(signo))
    if create is not None:
        env["OOC_TEST_FSYNC_CREATE"] = create
    # Under AddressSanitizer the preloaded library comes before the sanitizer's runtime: allowed here.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    return env
