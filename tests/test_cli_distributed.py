"""kmeans-ooc under mpirun (SPEC: Distributed): fit and predict split over 1 to 5 processes give bitwise the
single-process run's centres, inertia, n_iter, history and labels, cached or streaming (per-row state in a
file), for every initialisation, our layout and other programs' layouts, and more processes than chunks; the
labels also agree with numpy's nearest centre. Errors are one line from one process, and leave no output."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import ooc_testlib as T

import numpy as np

h5py = T.h5py()

MPIRUN = shutil.which("mpirun")
KMEANS = T.tool("kmeans-ooc")
# Open MPI as CI runs it: as root, more processes than the 2 cores, shared memory without ptrace (containers).
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")
if T.SANITIZED:
    # Open MPI leaks at MPI_Finalize from components it has already unloaded, in stacks LeakSanitizer cannot
    # name (so no suppression matches): leak checks are off under mpirun; memory errors and UB still abort.
    MPI_ENV["ASAN_OPTIONS"] = MPI_ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0"

TMP = None


def setUpModule():
    global TMP
    assert MPIRUN, "mpirun is not installed (tools/setup.sh installs openmpi-bin)"
    TMP = tempfile.TemporaryDirectory()
    # 120000 x 6 in 14 chunks of 9000 rows (the last short): no process count here divides them evenly.
    gen("blobs.h5", "-n", 120000, "-d", 6, "-c", 5, "--chunk-rows", 9000, "--seed", 11)
    # float32, 1.2M x 4 in 40 chunks: its per-row state (9.6 MB; 1.9 MB a process for 5) spills to a file
    # under the smallest limit.
    gen("f32.h5", "-n", 1200000, "-d", 4, "-c", 6, "--chunk-rows", 30000, "--seed", 12, "--dtype", "float32")
    # 30000 x 60 in 15 chunks: with L = 20, k = 50, the first k-means|| pass keeps about l = 1000 rows a chunk
    # for the next draw, more than its section's 4 MiB hold (8322 rows of 60 features): that draw goes through
    # the per-row state and reads the drawn rows by index instead.
    gen("wide.h5", "-n", 30000, "-d", 60, "-c", 10, "--chunk-rows", 2000, "--seed", 14)
    # 3 chunks, for 5 processes.
    gen("three.h5", "-n", 30000, "-d", 3, "-c", 4, "--chunk-rows", 10000, "--seed", 13)
    # Other programs' layouts, written by h5py: gzip chunks of float32 in a group; contiguous big-endian int32.
    X = read(shared("blobs.h5"))
    with h5py.File(shared("gzip.h5"), "w") as f:
        f.create_dataset("data/X", data=X.astype("<f4"), chunks=(7000, 6), compression="gzip")
    with h5py.File(shared("contiguous.h5"), "w") as f:
        f["X"] = np.round(X * 1000).astype(">i4")


def tearDownModule():
    TMP.cleanup()


def shared(name):
    return os.path.join(TMP.name, name)


def gen(name, *args):
    status, out, err = T.chunkgen("-q", *args, shared(name))
    assert status == 0, err


def read(path, dataset="X"):
    with h5py.File(path, "r") as f:
        return f[dataset][...]


def mpirun(np_, *args, **kw):
    """kmeans-ooc ARGS on np_ processes: (status, stdout, stderr). -q: mpirun's own banners off."""
    return T.run([MPIRUN, "-q", "-np", np_, KMEANS, *args], env=MPI_ENV, **kw)


def single(*args):
    return T.run([KMEANS, *args])


RESULT_KEYS = ["n_samples", "inertia", "n_iter", "converged", "passes", "n_candidates", "cluster_centers",
               "cluster_sizes", "history"]


def result(stdout):
    """The --json keys that must not depend on the process count (bytes_read may: the processes cache more
    chunks together than one alone, when the limit holds only some; seconds and the parameters do too; and
    so may the chunks an iteration leaves unread: each process leaves them only where its limit has room)."""
    j = json.loads(stdout)
    same = {k: j[k] for k in RESULT_KEYS}
    same["history"] = [{k: v for k, v in h.items() if k not in ("seconds", "chunks_unread")} for h in j["history"]]
    return same, j


class Distributed(T.TempDirTest):
    def fit_both(self, procs, inp, *args):
        """Fit inp alone and on `procs` processes, with labels and model each; assert the same results and
        the same label bits; return the distributed run's JSON and its outputs."""
        status, out, err = single("fit", inp, "--json", "-q", "-f", "--labels", self.path("one.h5"), "-o",
                                  self.path("one_model.h5"), *args)
        self.assertEqual(status, 0, err)
        want, self.single = result(out)
        tag = f"np{procs}"
        labels, model = self.path(f"{tag}.h5"), self.path(f"{tag}_model.h5")
        for p in (labels, model):
            if os.path.exists(p):
                os.remove(p)
        status, out, err = mpirun(procs, "fit", inp, "--json", "-q", "--labels", labels, "-o", model, *args)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        got, j = result(out)
        self.assertEqual(j["parameters"]["processes"], procs)
        for k in RESULT_KEYS:
            self.assertEqual(got[k], want[k], f"{k} differs on {procs} processes ({args})")
        np.testing.assert_array_equal(read(labels, "labels"), read(self.path("one.h5"), "labels"))
        np.testing.assert_array_equal(read(model, "cluster_centers"), read(self.path("one_model.h5"), "cluster_centers"))
        return j, labels, model

    def test_fit_cached_matches_one_process(self):
        for procs, threads in [(2, 1), (3, 2), (4, 1)]:
            with self.subTest(procs=procs, threads=threads):
                j, labels, model = self.fit_both(procs, shared("blobs.h5"), "-k", 5, "-t", threads)
                self.assertEqual(j["per_row_state"], "memory")
                centers = read(model, "cluster_centers")
                # With float64 data the centres in the model are those the labels were measured against.
                T.assert_nearest_centres(self, read(shared("blobs.h5")), centers, read(labels, "labels"), j["inertia"])

    def spill_limit(self, procs=1):
        """The smallest --memory-limit for f32.h5 on one thread of `procs` processes: it holds the working
        buffers (each process's share of a distributed pass's partials too), and not the per-row state (the
        refusal of 1M says what is needed, rounded up)."""
        args = ("fit", shared("f32.h5"), "-q", "-k", 6, "-t", 1, "--memory-limit", "1M", "--labels",
                self.path("limit.h5"))  # as the runs it is for: their labels' buffers count too
        status, out, err = mpirun(procs, *args) if procs > 1 else single(*args)
        self.assertEqual(status, 1)
        return err.split("needs ")[1].split(" MiB")[0] + "M"

    def test_fit_streaming_with_state_in_a_file(self):
        for procs in (2, 5):
            with self.subTest(procs=procs):
                j, _, _ = self.fit_both(procs, shared("f32.h5"), "-k", 6, "-t", 1, "--memory-limit",
                                        self.spill_limit(procs))
                self.assertEqual(j["per_row_state"], "file")

    def test_every_init(self):
        for init, procs in [("k-means++", 3), ("random", 2), ("k-means||", 3)]:
            with self.subTest(init=init):
                # k=20 for 5 blobs: empty clusters and relocations are likely; tol 0 runs all 25 iterations.
                j, _, _ = self.fit_both(procs, shared("blobs.h5"), "-k", 20, "--init", init, "-t", 1,
                                        "--max-iter", 25, "--tol", 0)
                # Cached, each process reads its own chunks once: the rows the initialisation draws come from
                # their chunks' owners, not from every process reading those chunks again.
                self.assertEqual(j["bytes_read"], self.single["bytes_read"])

    @unittest.skipIf(T.SANITIZED, "memory measurements mean nothing under AddressSanitizer")
    def test_memory_limit_counts_open_mpi(self):
        # Open MPI's own memory grows 2-3 MiB a process with the processes on the machine; uncounted, a fit
        # that fills its limit with cached chunks ran over it: 102 MiB under 96M on 4 processes.
        big = self.path("big.h5")
        status, out, err = T.chunkgen("-q", "-n", "2M", "-d", 20, "--chunk-rows", 20000, big)
        self.assertEqual(status, 0, err)
        for procs in (3, 4):
            with self.subTest(procs=procs):
                status, out, err = mpirun(procs, "fit", big, "-k", 12, "-t", 1, "-q", "--json", "--max-iter", 3,
                                          "--memory-limit", "96M")
                self.assertEqual(status, 0, err)
                self.assertLessEqual(json.loads(out)["peak_rss_bytes"], 96 << 20)  # process 0's own
        os.remove(big)

    @unittest.skipIf(T.SANITIZED, "memory measurements mean nothing under AddressSanitizer")
    def test_per_row_state_of_own_chunks(self):
        # Each process keeps the per-row state of its own chunks in memory (the limit counts those): it
        # allocated every row's and touched, in chunks dealt round robin, pages of all of them (144.5 MiB
        # under 128M here; 343 MiB under 256M at 32M x 20).
        status, out, err = mpirun(2, "fit", "blobs:samples=12M,features=2", "-k", 2, "-t", 1, "-q", "--json",
                                  "--max-iter", 2, "--memory-limit", "128M")
        self.assertEqual(status, 0, err)
        js = json.loads(out)
        self.assertEqual(js["per_row_state"], "memory")
        self.assertLessEqual(js["peak_rss_bytes"], 128 << 20)  # process 0's own

    def test_draws_from_the_state(self):
        self.fit_both(3, shared("wide.h5"), "-k", 50, "--oversampling-factor", 20, "-t", 1)

    def test_more_processes_than_chunks(self):
        self.fit_both(5, shared("three.h5"), "-k", 4, "-t", 1)

    def test_other_layouts(self):
        for inp in (shared("gzip.h5") + ":/data/X", shared("contiguous.h5")):
            with self.subTest(input=inp):
                self.fit_both(2, inp, "-k", 5, "-t", 1)

    def test_generated_input(self):
        self.fit_both(3, "blobs:samples=50000,features=5,centers=4,seed=9,chunk_rows=6000", "-k", 4, "-t", 1)

    def test_predict(self):
        status, out, err = single("fit", shared("blobs.h5"), "-q", "-k", 5, "-o", self.path("m.h5"))
        self.assertEqual(status, 0, err)
        status, out, err = single("predict", self.path("m.h5"), shared("gzip.h5") + ":/data/X", "--json", "-q",
                                  "--labels", self.path("one.h5"))
        self.assertEqual(status, 0, err)
        want = json.loads(out)
        status, out, err = mpirun(3, "predict", self.path("m.h5"), shared("gzip.h5") + ":/data/X", "--json", "-q",
                                  "--labels", self.path("three.h5"))
        self.assertEqual(status, 0, err)
        got = json.loads(out)
        self.assertGreater(got["peak_rss_bytes"], 0)  # process 0's own
        for key in ("n_samples", "n_features", "n_clusters", "inertia", "passes"):
            self.assertEqual(got[key], want[key], key)
        self.assertLessEqual(abs(got["bytes_read"] - want["bytes_read"]), 0.01 * want["bytes_read"])  # all of them
        self.assertEqual((got["parameters"]["processes"], want["parameters"]["processes"]), (3, 1))
        labels = read(self.path("three.h5"), "labels")
        np.testing.assert_array_equal(labels, read(self.path("one.h5"), "labels"))
        centers = read(self.path("m.h5"), "cluster_centers")
        X = read(shared("gzip.h5"), "data/X")
        T.assert_nearest_centres(self, X, centers, labels, want["inertia"])

    def assert_nothing_written(self):
        self.assertEqual(T.listdir(self.dir), [], "outputs or temporaries were left behind")

    def test_corrupt_chunk_one_error_no_output(self):
        bad = self.path("bad.h5")
        shutil.copy(shared("blobs.h5"), bad)
        with h5py.File(bad, "r") as f:
            offset = f["X"].id.get_chunk_info(5).byte_offset
        with open(bad, "r+b") as f:
            f.seek(offset + 200)
            block = bytearray(f.read(16))
            f.seek(offset + 200)
            f.write(bytes(b ^ 0xFF for b in block))
        out_dir = tempfile.TemporaryDirectory()
        self.addCleanup(out_dir.cleanup)
        for procs in (2, 3):
            with self.subTest(procs=procs):
                status, out, err = mpirun(procs, "fit", bad, "-q", "-k", 5, "-t", 1, "--labels",
                                          os.path.join(out_dir.name, "l.h5"), "-o", os.path.join(out_dir.name, "m.h5"))
                self.assertNotEqual(status, 0)
                T.assert_one_error(self, "kmeans-ooc", 1, err, 1, "chunk 5")
                self.assertEqual(T.listdir(out_dir.name), [])

    def test_one_process_fails_alone(self):
        """Process 1 cannot create its per-row state file ($TMPDIR is missing): the others learn it at once,
        and process 0 says it."""
        args = [KMEANS, "fit", shared("f32.h5"), "-q", "-k", 6, "-t", 1, "--memory-limit", self.spill_limit(2),
                "--labels", self.path("l.h5")]
        argv = [MPIRUN, "-q", "-np", 1, "-x", "TMPDIR=" + self.dir, *args, ":",
                "-np", 1, "-x", "TMPDIR=" + self.path("missing"), *args]
        status, out, err = T.run(argv, env=MPI_ENV, timeout=60)
        T.assert_one_error(self, "kmeans-ooc", status, err, 1, "per-row state", "missing")
        self.assertEqual(T.listdir(self.dir), [])

    def test_full_disk(self):
        """Process 0 runs out of space writing the labels: every process stops with its error, the same chunk
        as one process alone, and nothing is left on the full file system."""
        mnt = self.mount_tmpfs("size=300k")
        args = ["fit", shared("f32.h5"), "-q", "-k", 6, "-t", 1, "--labels", os.path.join(mnt, "l.h5"), "-o",
                os.path.join(mnt, "m.h5")]
        status, out, err = single(*args)
        want = T.assert_one_error(self, "kmeans-ooc", status, err, 1, "l.h5", "No space left")
        self.assertEqual(T.listdir(mnt), [])
        for procs in (2, 3):
            with self.subTest(procs=procs):
                status, out, err = mpirun(procs, *args)
                self.assertEqual(T.assert_one_error(self, "kmeans-ooc", status, err, 1), want)
                self.assertEqual(T.listdir(mnt), [])

    def test_existing_output_is_kept(self):
        labels = self.path("labels.h5")
        with open(labels, "wb") as f:
            f.write(b"precious")
        status, out, err = mpirun(2, "fit", shared("blobs.h5"), "-q", "-k", 5, "-t", 1, "--labels", labels)
        T.assert_one_error(self, "kmeans-ooc", status, err, 1, "labels.h5", "exists")
        with open(labels, "rb") as f:
            self.assertEqual(f.read(), b"precious")
        self.assertEqual(T.listdir(self.dir), ["labels.h5"])

    def test_tools_of_one_process(self):
        """chunkgen and chunkinfo run as one process under mpirun: process 0 writes and prints, once."""
        gen_args = ["-n", 50000, "-d", 3, "--chunk-rows", 7000, "--seed", 4]
        status, out, err = T.run([MPIRUN, "-q", "-np", 3, T.tool("chunkgen"), *gen_args, self.path("mpi.h5")],
                                 env=MPI_ENV)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(len(out.splitlines()), 1, out)
        status, out, err = T.chunkgen(*gen_args, self.path("one.h5"))
        self.assertEqual(status, 0, err)
        with open(self.path("mpi.h5"), "rb") as a, open(self.path("one.h5"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        status, out, err = T.run([MPIRUN, "-q", "-np", 2, T.tool("chunkinfo"), self.path("mpi.h5")], env=MPI_ENV)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out.count("shape"), 1, out)

    def test_help_and_version_said_once(self):
        for tool in ("kmeans-ooc", "chunkgen", "chunkinfo"):
            for arg, needle in (("--help", "Usage:"), ("-V", "(ooc)")):
                with self.subTest(tool=tool, arg=arg):
                    status, out, err = T.run([MPIRUN, "-q", "-np", 3, T.tool(tool), arg], env=MPI_ENV)
                    self.assertEqual((status, err), (0, ""))
                    self.assertEqual(out.count(needle), 1, out)

    def test_different_command_lines(self):
        """An MPMD launch (mpirun A : B) whose processes run other options, here k, would exchange buffers of
        other sizes (it ended in SIGSEGV): refused in one line, every process with status 2, nothing read."""
        one = [KMEANS, "fit", shared("blobs.h5"), "-q", "-o", self.path("m.h5"), "-k"]
        status, out, err = T.run([MPIRUN, "-q", "-np", 1, *one, 3, ":", "-np", 1, *one, 4], env=MPI_ENV)
        T.assert_one_error(self, "kmeans-ooc", status, err, 2, "different command lines")
        self.assertEqual((out, T.listdir(self.dir)), ("", []))

    def test_processes_see_different_files(self):
        """The same relative path opened from other working directories, as on machines whose local files
        differ: refused in one line with status 1 for fit and predict, nothing written. Before, other row
        counts ended in MPI_ERR_TRUNCATE or a hang, and another file of the same shape was mixed in silently."""
        here, there = self.path("here"), self.path("there")
        for d in (here, there):
            os.mkdir(d)
        shutil.copy(shared("blobs.h5"), os.path.join(here, "in.h5"))
        status, out, err = single("fit", os.path.join(here, "in.h5"), "-q", "-k", 3, "-o", self.path("m.h5"))
        self.assertEqual(status, 0, err)
        for name, rows in (("same shape", 120000), ("other rows", 50000)):
            status, out, err = T.chunkgen("-q", "-f", "-n", rows, "-d", 6, "--chunk-rows", 9000, "--seed", 99,
                                          os.path.join(there, "in.h5"))
            self.assertEqual(status, 0, err)
            for cmd in (["fit", "in.h5", "-q", "-k", 3, "--labels", self.path("l.h5")],
                        ["predict", self.path("m.h5"), "in.h5", "-q", "--labels", self.path("l.h5")]):
                with self.subTest(name=name, command=cmd[0]):
                    one = ["-np", 1, KMEANS, *cmd]
                    status, out, err = T.run([MPIRUN, "-q", "--wdir", here, *one, ":", "--wdir", there, *one],
                                             env=MPI_ENV, timeout=60)
                    T.assert_one_error(self, "kmeans-ooc", status, err, 1, "in.h5", "process 1 sees",
                                       "every process must read the same input")
                    self.assertEqual(out, "")
                    self.assertEqual(sorted(T.listdir(self.dir)), ["here", "m.h5", "there"])

    def test_usage_error_said_once(self):
        status, out, err = mpirun(3, "fit", shared("blobs.h5"), "-k", 0)
        T.assert_one_error(self, "kmeans-ooc", status, err, 2, "--n-clusters")

    def test_usage_error_not_lost(self):
        """Bad usage is found before MPI starts: the other processes leave silently with 0, since mpirun,
        seeing one of them fail before process 0, could end the job before printing process 0's message
        (1 run in 20 printed nothing). Each process as mpirun starts it, then many whole runs."""
        for rank, status, lines in (("0", 2, 1), ("2", 0, 0)):
            env = dict(os.environ, OMPI_COMM_WORLD_RANK=rank)
            got = T.run([KMEANS, "fit", shared("blobs.h5"), "-k", 0], env=env)
            self.assertEqual((got[0], len(T.error_lines(got[2]))), (status, lines), got)
        for _ in range(10):
            status, out, err = mpirun(4, "fit", shared("blobs.h5"), "-k", 0)
            T.assert_one_error(self, "kmeans-ooc", status, err, 2, "--n-clusters")

    def test_terminate_leaves_nothing(self):
        """SIGTERM to mpirun (which passes it on to every process) mid-fit: every process stops at its next
        chunk, process 0 says so once, and neither output nor a temporary remains."""
        argv = [MPIRUN, "-q", "-np", 2, KMEANS, "fit", "blobs:samples=16M,features=20,chunk_rows=100000", "-k", 8,
                "-t", 1, "-v", "--labels", self.path("l.h5"), "-o", self.path("m.h5")]
        p = subprocess.Popen([str(a) for a in argv], env=MPI_ENV, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = p.stderr.read(1)  # -v: progress from the first chunk on
        self.assertTrue(first, "no progress before the end")
        p.send_signal(signal.SIGTERM)  # a pass over 16M rows takes seconds
        out, err = p.communicate(timeout=60)
        err = (first + err).decode()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("kmeans-ooc: error: interrupted: signal 15 (SIGTERM)", err)
        self.assertEqual(err.count("error:"), 1, err)
        deadline = time.time() + 10  # mpirun may return before its processes have removed their files
        while T.listdir(self.dir) and time.time() < deadline:
            time.sleep(0.1)
        self.assert_nothing_written()

    def rank_pids(self, mpirun_pid, timeout=30, processes=2):
        """{rank: pid} of the processes mpirun started (its children), once all have begun."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = {}
            for entry in os.listdir("/proc"):
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    if ppid != mpirun_pid:
                        continue
                    with open(f"/proc/{entry}/environ", "rb") as f:
                        env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
                    found[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(entry)
                except (OSError, ValueError, KeyError, IndexError):
                    continue
            if len(found) == processes:
                return found
            time.sleep(0.05)
        self.fail("mpirun's processes did not start")

    def one_process_signalled(self, sig):
        argv = [MPIRUN, "-q", "-np", 2, KMEANS, "fit", "blobs:samples=16M,features=20,chunk_rows=100000", "-k", 8,
                "-t", 1, "-v", "--labels", self.path("l.h5"), "-o", self.path("m.h5")]
        p = subprocess.Popen([str(a) for a in argv], env=MPI_ENV, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = p.stderr.read(1)  # -v: progress from the first chunk on, the outputs' temporaries made
        self.assertTrue(first, "no progress before the end")
        os.kill(self.rank_pids(p.pid)[1], sig)
        out, err = p.communicate(timeout=60)
        deadline = time.time() + 10  # mpirun may return before its processes have removed their files
        while T.listdir(self.dir) and time.time() < deadline:
            time.sleep(0.1)
        self.assert_nothing_written()
        return p.returncode, (first + err).decode()

    def test_one_process_terminated(self):
        """SIGTERM to one process only (as a scheduler may send it): the others learn of it at the next
        chunk and stop as interrupted too, so the job's status is 143 whichever exits first (before, the
        others exited 1 and mpirun's status changed from run to run)."""
        status, err = self.one_process_signalled(signal.SIGTERM)
        self.assertEqual(status, 143, err)
        self.assertEqual(err.count("error:"), 1, err)
        self.assertIn("interrupted: signal 15 (SIGTERM)", err)

    def test_process_without_chunks_terminated(self):
        """Three processes over two chunks: SIGTERM to the one that has none (it only takes part in each
        pass's rounds) stops the fit within a round, 143, said once (it ran the whole fit first: 300
        iterations, about 16 s here)."""
        argv = [MPIRUN, "-q", "-np", 3, KMEANS, "fit", "blobs:samples=800k,features=20,chunk_rows=400000,cluster_std=30",
                "-k", 300, "--init", "random", "--max-iter", 300, "--tol", 0, "-t", 1, "-v", "-o", self.path("m.h5")]
        p = subprocess.Popen([str(a) for a in argv], env=MPI_ENV, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = p.stderr.read(1)
        self.assertTrue(first, "no progress before the end")
        os.kill(self.rank_pids(p.pid, processes=3)[2], signal.SIGTERM)
        t0 = time.time()
        out, err = p.communicate(timeout=120)
        took, err = time.time() - t0, (first + err).decode()
        self.assertEqual(p.returncode, 143, err)
        self.assertEqual(err.count("error:"), 1, err)
        self.assertIn("interrupted: signal 15 (SIGTERM)", err)
        self.assertLess(took, 5, "the fit ran on after the signal")
        deadline = time.time() + 10
        while T.listdir(self.dir) and time.time() < deadline:
            time.sleep(0.1)
        self.assert_nothing_written()

    def test_one_process_killed(self):
        """A process killed outright: mpirun ends the job (SIGTERM to the others, then SIGKILL), and process 0,
        which may be blocked in an exchange with the dead one, has removed its temporaries on the SIGTERM
        (before, they stayed)."""
        status, err = self.one_process_signalled(signal.SIGKILL)
        self.assertNotEqual(status, 0, err)


if __name__ == "__main__":
    unittest.main()
