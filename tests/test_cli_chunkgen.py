"""chunkgen as a user sees it: exit statuses, the one-line error contract, nothing written on failure,
--force, signals, full disks, help and progress."""
import errno
import fcntl
import os
import pty
import re
import resource
import select
import signal
import stat
import struct
import subprocess
import tempfile
import termios
import time
import unittest

import ooc_testlib as T

import numpy as np

h5py = T.h5py()

CHUNKGEN = T.tool("chunkgen")
# Slow enough to interrupt (zstd level 19, one thread, ~0.5 s a chunk), small on disk.
SLOW = ["-n", "200k", "-d", "20", "--compression", "zstd:19", "-t", "1", "--chunk-rows", "10000"]
# Bigger than 1 MiB once written (about 15 MB), quick to make.
BIG = ["-n", "100k", "-d", "20", "--chunk-rows", "5000"]


def temporaries(names, dest_name):
    """Names in a listing that look like chunkgen's temporary for dest_name ('.NAME.XXXXXX')."""
    return [n for n in names if n.startswith("." + dest_name + ".")]


class Base(T.TempDirTest):
    def setUp(self):
        super().setUp()
        self.out = self.path("out.h5")

    def one_error(self, status, err, expected_status, *needles):
        return T.assert_one_error(self, "chunkgen", status, err, expected_status, *needles)

    def assert_names_destination(self, line, dest):
        """The error names the file the user asked for, not the hidden temporary it never sees."""
        self.assertIn(os.path.basename(dest), line)
        self.assertNotRegex(line, r"\." + re.escape(os.path.basename(dest)) + r"\.\w{6}",
                            "the error names the temporary file, not the destination")

    def existing(self, path=None, content=b"precious bytes, not HDF5\n" * 100):
        path = path or self.out
        with open(path, "wb") as f:
            f.write(content)
        return content

    def read_bytes(self, path=None):
        with open(path or self.out, "rb") as f:
            return f.read()


class BadUsage(Base):
    CASES = [
        (["-n", "abc"], "--samples"),
        (["-n", "0"], "--samples"),
        (["-n", "-5"], "--samples"),
        (["-n", "1.5"], "--samples"),
        (["-n", "1e30"], "--samples", "'1e30' is too large"),
        (["-n", "10Q"], "--samples"),
        (["-n", ""], "--samples"),
        (["-d", "0"], "--features"),
        (["-c", "0"], "--centers"),
        (["--cluster-std", "-1"], "--cluster-std"),
        (["--cluster-std", "nan"], "--cluster-std"),
        (["--cluster-std", "inf"], "--cluster-std"),
        (["--center-box", "5,1"], "--center-box"),
        (["--center-box", "5,5"], "--center-box"),
        (["--center-box", "x"], "--center-box"),
        (["--center-box", "1,"], "--center-box", "''"),
        (["--center-box", "1,2,3"], "--center-box", "'1,2,3' is not LO,HI"),
        (["--center-box", "-1e308,1e308"], "--center-box", "finite"),  # both finite, HI - LO is not
        # Values that would be written as infinity: a centre plus a normal draw (below 12.3) times the std
        # past the largest float64, or a float32 centre past the largest float32.
        (["--cluster-std", "1.5e307"], "--cluster-std", "float64"),
        (["--dtype", "float32", "--cluster-std", "3e37"], "--cluster-std", "float32"),
        (["--dtype", "float32", "--center-box", "-1e39,1e39"], "--center-box", "float32"),
        (["--dtype", "int8"], "--dtype"),
        (["--compression", "lz4"], "--compression"),
        (["--compression", "zstd:0"], "--compression"),
        (["--compression", "zstd:99"], "--compression"),
        (["--compression", "zstd:x"], "--compression"),
        (["-t", "0"], "--threads"),
        (["-t", "abc"], "--threads"),
        (["-t", "-1"], "--threads"),
        (["--chunk-rows", "0"], "--chunk-rows"),
        (["--seed", "-1"], "--seed"),
        (["--seed", "x"], "--seed"),
    ]

    def test_bad_values(self):
        for args, option, *value in self.CASES:
            with self.subTest(args=args):
                status, out, err = T.chunkgen(*args, self.out)
                # The line names the option and quotes the value refused.
                self.one_error(status, err, 2, option, *(value or [f"'{args[1]}'"]))
                self.assertEqual(out, "")
                self.assertEqual(T.listdir(self.dir), [], "bad usage wrote something")

    def test_unknown_option(self):
        status, out, err = T.chunkgen("--bogus", self.out)
        self.one_error(status, err, 2, "--bogus")
        self.assertEqual(T.listdir(self.dir), [])
        status, out, err = T.chunkgen("-Z", self.out)
        self.one_error(status, err, 2, "Z")
        self.assertEqual(T.listdir(self.dir), [])

    def test_missing_option_value(self):
        status, out, err = T.chunkgen(self.out, "-n")
        self.one_error(status, err, 2, "n")
        self.assertEqual(T.listdir(self.dir), [])

    def test_no_output_argument(self):
        status, out, err = T.chunkgen("-n", 10)
        self.one_error(status, err, 2, "OUTPUT")

    def test_two_output_arguments(self):
        other = os.path.join(self.dir, "other.h5")
        status, out, err = T.chunkgen("-n", 10, self.out, other)
        self.one_error(status, err, 2, "other.h5")
        self.assertEqual(T.listdir(self.dir), [])

    def test_too_large_is_bad_usage(self):
        status, out, err = T.chunkgen("-n", "1e18", "-d", 1000, self.out)
        self.one_error(status, err, 2, "samples")
        self.assertEqual(T.listdir(self.dir), [])

    def test_chunk_too_large_for_hdf5(self):
        # 200000 default rows x 3000 features x 8 bytes = 4.8 GB: over HDF5's 4 GiB chunk limit. A clear refusal
        # (usage or failure), never a crash, nothing written.
        status, out, err = T.chunkgen("-q", "-n", 300000, "-d", 3000, self.out)
        self.assertIn(status, (1, 2), err)
        line = self.one_error(status, err, status, "chunk")
        self.assertNotRegex(line, r"\.out\.h5\.\w{6}", "names the temporary file")
        self.assertEqual(T.listdir(self.dir), [])

    def test_parameters_named_as_options(self):
        # Refusals of the parameters together named them as the blobs: input does (cluster_std, chunk_rows).
        for args, options in ((["--cluster-std", "1e308"], ["--cluster-std", "--center-box"]),
                              (["-n", 300000, "-d", 3000], ["--chunk-rows", "--features"]),
                              (["-c", "1G"], ["--centers", "--features"])):
            with self.subTest(args=args):
                status, out, err = T.chunkgen(*args, self.out)
                line = self.one_error(status, err, 2, *options)
                self.assertNotRegex(line, r"blobs:|cluster_std|chunk_rows|center_box")

    def test_usage_is_checked_before_reading_centres(self):
        # A usage error wins over a missing --centers-from file: options are checked before any data is read.
        status, out, err = T.chunkgen("-t", 0, "--centers-from", os.path.join(self.dir, "nope.h5"), self.out)
        self.one_error(status, err, 2, "--threads")

    def test_usage_error_leaves_existing_output_alone(self):
        content = self.existing()
        status, out, err = T.chunkgen("-f", "-n", 0, self.out)
        self.one_error(status, err, 2, "--samples")
        self.assertEqual(self.read_bytes(), content)
        self.assertEqual(T.listdir(self.dir), ["out.h5"])


class Counts(Base):
    def test_count_forms(self):
        for text, rows in (("1e3", 1000), ("2k", 2000), ("1.5k", 1500), ("1M", 1000000), ("777", 777)):
            with self.subTest(n=text):
                status, out, err = T.chunkgen("-q", "-f", "-n", text, "-d", 1, "-c", 2, self.out)
                self.assertEqual(status, 0, err)
                self.assertEqual(err, "")
                with T.open_h5(self.out) as f:
                    self.assertEqual(f["X"].shape, (rows, 1))
                    self.assertEqual(int(f.attrs["samples"]), rows)

    def test_count_forms_for_features_centers_and_chunk_rows(self):
        status, out, err = T.chunkgen("-q", "-n", "3k", "-d", "1e1", "-c", "2e0", "--chunk-rows", "1.2k", self.out)
        self.assertEqual(status, 0, err)
        with T.open_h5(self.out) as f:
            self.assertEqual(f["X"].shape, (3000, 10))
            self.assertEqual(f["X"].chunks, (1200, 10))
            self.assertEqual(f["centers"].shape, (2, 10))


class Outputs(Base):
    def test_existing_output_needs_force(self):
        content = self.existing()
        status, out, err = T.chunkgen("-q", "-n", 100, self.out)
        line = self.one_error(status, err, 1, "--force")
        self.assertIn("out.h5", line)
        self.assertEqual(self.read_bytes(), content)
        self.assertEqual(T.listdir(self.dir), ["out.h5"])

    def test_force_replaces(self):
        self.existing()
        status, out, err = T.chunkgen("-q", "-f", "-n", 100, "-d", 3, self.out)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        with T.open_h5(self.out) as f:
            self.assertEqual(f["X"].shape, (100, 3))
        self.assertEqual(T.listdir(self.dir), ["out.h5"])

    def test_output_mode_follows_umask(self):
        status, out, err = T.chunkgen("-q", "-n", 10, self.out)
        self.assertEqual(status, 0, err)
        umask = os.umask(0)
        os.umask(umask)
        self.assertEqual(os.stat(self.out).st_mode & 0o777, 0o666 & ~umask)

    def test_missing_directory(self):
        dest = os.path.join(self.dir, "no", "such", "dir", "out.h5")
        status, out, err = T.chunkgen("-q", "-n", 100, dest)
        line = self.one_error(status, err, 1)
        self.assertIn(dest, line)
        self.assertEqual(T.listdir(self.dir), [])

    def test_output_is_a_directory(self):
        os.mkdir(self.out)
        for force in ([], ["-f"]):
            status, out, err = T.chunkgen("-q", *force, "-n", 100, self.out)
            self.one_error(status, err, 1, "out.h5")
            self.assertTrue(os.path.isdir(self.out))
            self.assertEqual(T.listdir(self.dir), ["out.h5"])
            self.assertEqual(T.listdir(self.out), [])

    def test_output_is_not_a_regular_file(self):
        # A FIFO (as root, a device node such as /dev/null too) is never replaced, even with --force.
        os.mkfifo(self.out)
        for force in ([], ["-f"]):
            status, out, err = T.chunkgen("-q", *force, "-n", 100, self.out, timeout=20)
            self.one_error(status, err, 1, "out.h5", "not a regular file")
            self.assertTrue(stat.S_ISFIFO(os.lstat(self.out).st_mode))
            self.assertEqual(T.listdir(self.dir), ["out.h5"])

    def test_longest_output_name(self):
        # A name of NAME_MAX (255) bytes: the temporary beside it must fit too.
        name = "a" * 252 + ".h5"
        status, out, err = T.chunkgen("-q", "-n", 100, "-d", 2, os.path.join(self.dir, name))
        self.assertEqual(status, 0, err)
        self.assertEqual(T.listdir(self.dir), [name])
        with T.open_h5(os.path.join(self.dir, name)) as f:
            self.assertEqual(f["X"].shape, (100, 2))

    def test_empty_output_name(self):
        status, out, err = T.chunkgen("-q", "-n", 100, "")
        self.one_error(status, err, 2, "empty")

    def test_output_name_ending_in_a_colon(self):
        # as kmeans-ooc's FILE.h5:/dataset with the dataset left out: a mistake, not a file named 'out.h5:'
        before = T.listdir(self.dir)
        status, out, err = T.chunkgen("-q", "-n", 100, self.path("out.h5:"))
        self.one_error(status, err, 2, "ends with ':'")
        self.assertEqual(T.listdir(self.dir), before)

    def test_centers_from_the_output_itself(self):
        # --force over the file the centres come from would replace an input: refused as usage.
        c = os.path.join(self.dir, "c.h5")
        with h5py.File(c, "w") as f:
            f["centers"] = np.eye(3)
        content = self.read_bytes(c)
        # A model whose /cluster_centers is an external link to c.h5: c.h5 is an input too.
        link = os.path.join(self.dir, "link.h5")
        with h5py.File(link, "w") as f:
            f["cluster_centers"] = h5py.ExternalLink("c.h5", "/centers")
        for source, out_name in ((c, c), (c, os.path.join(self.dir, ".", "c.h5")), (link, c)):
            status, out, err = T.chunkgen("-q", "-f", "-n", 100, "--centers-from", source, out_name)
            self.one_error(status, err, 2, "c.h5", "input")
            self.assertEqual(self.read_bytes(c), content)
            self.assertEqual(T.listdir(self.dir), ["c.h5", "link.h5"])

    def test_centers_from_a_file_found_under_a_prefix(self):
        # Centres HDF5 finds under HDF5_EXT_PREFIX (an external link's target), HDF5_VDS_PREFIX (a virtual
        # dataset's source) or HDF5_EXTFILE_PREFIX (external raw storage) come from that file: an input too.
        d, links = os.path.join(self.dir, "d"), os.path.join(self.dir, "links")
        os.mkdir(d)
        os.mkdir(links)
        centres = np.eye(3)
        with h5py.File(os.path.join(d, "c.h5"), "w") as f:
            f["centers"] = centres
        centres.tofile(os.path.join(d, "c.bin"))
        with h5py.File(os.path.join(links, "mext.h5"), "w") as f:
            f["cluster_centers"] = h5py.ExternalLink("c.h5", "/centers")
        layout = h5py.VirtualLayout(shape=(3, 3), dtype="f8")
        layout[:] = h5py.VirtualSource("c.h5", "centers", shape=(3, 3))
        with h5py.File(os.path.join(links, "mvds.h5"), "w") as f:
            f.create_virtual_dataset("cluster_centers", layout)
        with h5py.File(os.path.join(links, "mraw.h5"), "w") as f:
            f.create_dataset("cluster_centers", shape=(3, 3), dtype="<f8", external=[("c.bin", 0, centres.nbytes)])
        before = {n: self.read_bytes(os.path.join(d, n)) for n in ("c.h5", "c.bin")}
        for model, var, out_name in (("mext.h5", "HDF5_EXT_PREFIX", "c.h5"), ("mvds.h5", "HDF5_VDS_PREFIX", "c.h5"),
                                     ("mraw.h5", "HDF5_EXTFILE_PREFIX", "c.bin")):
            with self.subTest(model=model):
                env = dict(os.environ, **{var: d})
                status, out, err = T.chunkgen("-q", "-f", "-n", 100, "--centers-from", os.path.join(links, model),
                                              self.out, env=env)
                self.assertEqual((status, err), (0, ""))  # HDF5 finds the centres there
                with h5py.File(self.out, "r") as f:
                    np.testing.assert_array_equal(f["centers"][:], centres)
                os.remove(self.out)
                status, out, err = T.chunkgen("-q", "-f", "-n", 100, "--centers-from", os.path.join(links, model),
                                              os.path.join(d, out_name), env=env)
                self.one_error(status, err, 2, out_name, "input")
                self.assertEqual({n: self.read_bytes(os.path.join(d, n)) for n in before}, before)
                self.assertEqual(sorted(T.listdir(d)), ["c.bin", "c.h5"])
                self.assertEqual(T.listdir(self.dir), ["d", "links"])

    def test_centers_from_disagreeing_options(self):
        # The error names the option that disagrees with the file, and only an option the user gave.
        c = os.path.join(self.dir, "c.h5")
        with h5py.File(c, "w") as f:
            f["centers"] = np.zeros((4, 3))
        for args, needle in ((["-c", 5], "holds 4 centres, but -c 5 was given"),
                             (["-d", 7], "holds centres of 3 features, but -d 7 was given")):
            with self.subTest(args=args):
                status, out, err = T.chunkgen("-q", "-n", 100, "--centers-from", c, *args, self.out)
                line = self.one_error(status, err, 2, needle)
                self.assertNotIn("-c" if args[0] == "-d" else "-d", line.split("given")[0].split("but")[1])
                self.assertEqual(T.listdir(self.dir), ["c.h5"])

    def test_centers_from_and_center_box(self):
        # Both given: the box would be recorded in the attributes, unused; refused as usage, before reading.
        status, out, err = T.chunkgen("-q", "-n", 100, "--centers-from", os.path.join(self.dir, "nope.h5"),
                                      "--center-box", "1,2", self.out)
        self.one_error(status, err, 2, "--center-box", "--centers-from")
        self.assertEqual(T.listdir(self.dir), [])

    def test_centers_from_a_model(self):
        # Without a dataset named: chunkgen's /centers, else a model's /cluster_centers; neither is one line.
        model, other = os.path.join(self.dir, "model.h5"), os.path.join(self.dir, "other.h5")
        centres = np.random.default_rng(3).uniform(-5, 5, size=(4, 3))
        with h5py.File(model, "w") as f:
            f["cluster_centers"] = centres
        with h5py.File(other, "w") as f:
            f["X"] = centres
        status, out, err = T.chunkgen("-q", "-n", 100, "--centers-from", model, self.out)
        self.assertEqual(status, 0, err)
        with h5py.File(self.out, "r") as f:
            np.testing.assert_array_equal(f["centers"][:], centres)
            # The attributes say where the centres came from, and name no box they were not drawn from.
            self.assertEqual((f.attrs["centers_from"], "center_box" in f.attrs), (model, False))
        os.unlink(self.out)
        # Centres that float32 cannot hold would make /X infinite: refused, naming the file and the centre.
        with h5py.File(other, "w") as f:
            f["centers"] = np.array([[0.0, 1.0], [2.0, -1e39]])
        status, out, err = T.chunkgen("-q", "-n", 100, "--dtype", "float32", "--centers-from", other, self.out)
        self.one_error(status, err, 1, "other.h5", "centre 1, feature 1", "float32")
        with h5py.File(other, "w") as f:
            f["X"] = centres
        status, out, err = T.chunkgen("-q", "-n", 100, "--centers-from", other, self.out)
        self.one_error(status, err, 1, "other.h5", "/centers", "/cluster_centers")
        self.assertEqual(sorted(T.listdir(self.dir)), ["model.h5", "other.h5"])

    def test_centers_from_missing_file(self):
        missing = os.path.join(self.dir, "missing-centres.h5")
        status, out, err = T.chunkgen("-q", "-n", 100, "--centers-from", missing, self.out)
        line = self.one_error(status, err, 1, "missing-centres.h5", os.strerror(errno.ENOENT))
        self.assertNotIn("no dataset", line)  # the file is missing, not a dataset in it
        self.assertEqual(T.listdir(self.dir), [])

    def test_centers_from_not_hdf5(self):
        bogus = os.path.join(self.dir, "bogus.h5")
        self.existing(bogus)
        status, out, err = T.chunkgen("-q", "-n", 100, "--centers-from", bogus, self.out)
        self.one_error(status, err, 1, "bogus.h5")
        self.assertEqual(T.listdir(self.dir), ["bogus.h5"])

    def test_centers_from_wrong_rank(self):
        c = os.path.join(self.dir, "c.h5")
        with h5py.File(c, "w") as f:
            f["v"] = [1.0, 2.0, 3.0]
            f["nan"] = [[0.0, float("nan")], [1.0, 2.0]]
        for ds in ("/v", "/nan"):
            with self.subTest(dataset=ds):
                status, out, err = T.chunkgen("-q", "-n", 100, "--centers-from", c + ":" + ds, self.out)
                self.assertIn(status, (1, 2), err)
                self.one_error(status, err, status, ds)
                self.assertEqual(T.listdir(self.dir), ["c.h5"])

    def test_standard_output_full(self):
        # The summary is printed before the file is renamed into place, as kmeans-ooc's results are: a run
        # that cannot print it fails whole, writing nothing and replacing nothing (before, it failed after
        # replacing an existing file).
        status, err = T.run_into_full(["chunkgen", "-n", 1000, self.out])
        self.one_error(status, err, 1, "standard output", "No space left on device")
        self.assertEqual(T.listdir(self.dir), [])
        status, out, err = T.chunkgen("-q", "-n", 100, "-d", 2, self.out)
        self.assertEqual((status, err), (0, ""))
        content = self.read_bytes(self.out)
        status, err = T.run_into_full(["chunkgen", "-f", "-n", 1000, "--seed", 2, self.out])
        self.one_error(status, err, 1, "standard output", "No space left on device")
        self.assertEqual(self.read_bytes(self.out), content)
        self.assertEqual(T.listdir(self.dir), [os.path.basename(self.out)])

    def test_broken_pipe(self):
        # stdout's reader gone before the summary (`| head`): ended by SIGPIPE, as any tool, with no temporary
        # left and the existing file as it was.
        status, out, err = T.chunkgen("-q", "-n", 100, "-d", 2, self.out)
        content = self.read_bytes(self.out)
        p = subprocess.Popen([T.tool("chunkgen"), "-f", "-n", "1000", "--seed", "2", self.out],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.close()
        err = p.stderr.read().decode()
        self.assertEqual((p.wait(timeout=60), err), (-signal.SIGPIPE, ""))
        self.assertEqual(self.read_bytes(self.out), content)
        self.assertEqual(T.listdir(self.dir), [os.path.basename(self.out)])


class Signals(Base):
    def interrupted(self, signals, force_over_existing=False):
        args = list(SLOW)
        content = None
        if force_over_existing:
            content = self.existing()
            args.append("-f")
        before = T.listdir(self.dir)
        p = subprocess.Popen([CHUNKGEN, *args, self.out], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            # Wait until the run is under way: its temporary file exists beside the destination.
            deadline = time.monotonic() + 30
            while not temporaries(T.listdir(self.dir), "out.h5"):
                self.assertIsNone(p.poll(), "chunkgen finished before it could be interrupted")
                self.assertLess(time.monotonic(), deadline, "no temporary file appeared")
                time.sleep(0.01)
            time.sleep(0.3)
            self.assertIsNone(p.poll(), "chunkgen finished before it could be interrupted")
            t0 = time.monotonic()
            for s in signals:
                p.send_signal(s)
                time.sleep(0.05)
            out, err = p.communicate(timeout=60)
            reaction = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertLess(reaction, 20, "slow to stop after a signal")
        self.assertEqual(T.listdir(self.dir), before, "a temporary or partial file was left behind")
        if content is not None:
            self.assertEqual(self.read_bytes(), content, "the existing destination was touched")
        return p.returncode, out, err

    def test_sigint(self):
        status, out, err = self.interrupted([signal.SIGINT])
        self.one_error(status, err, 130, "interrupted: signal 2 (SIGINT)")

    def test_sigterm(self):
        status, out, err = self.interrupted([signal.SIGTERM])
        self.one_error(status, err, 143)

    def test_sighup(self):
        # The terminal closed: a clean stop as for SIGINT, nothing left behind.
        status, out, err = self.interrupted([signal.SIGHUP], force_over_existing=True)
        self.one_error(status, err, 128 + signal.SIGHUP)

    def test_sigint_keeps_existing_destination(self):
        status, out, err = self.interrupted([signal.SIGINT], force_over_existing=True)
        self.one_error(status, err, 130)

    def test_sigterm_keeps_existing_destination(self):
        status, out, err = self.interrupted([signal.SIGTERM], force_over_existing=True)
        self.one_error(status, err, 143)

    def test_signal_just_before_the_rename(self):
        # After the last chunk, when the output is synced: still 128 + N, the destination untouched.
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig):
                content = self.existing()
                lib_dir = tempfile.TemporaryDirectory()
                self.addCleanup(lib_dir.cleanup)
                env = T.at_first_fsync(lib_dir.name, signo=sig)
                status, out, err = T.chunkgen("-q", "-f", "-n", 1000, self.out, env=env)
                self.one_error(status, err, 128 + sig, "interrupted")
                self.assertEqual(self.read_bytes(), content)
                self.assertEqual(T.listdir(self.dir), ["out.h5"])

    def test_second_sigint_stops_at_once_and_cleans_up(self):
        status, out, err = self.interrupted([signal.SIGINT, signal.SIGINT], force_over_existing=True)
        # One line: "... again, stopped at once", or the first signal's own if the run had said it before the
        # second came (then the second cuts its exit short, silently: under ASan that exit takes a while).
        self.one_error(status, err, 130, "interrupted: signal 2 (SIGINT)")


def limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


class FullDisk(Base):
    def test_file_size_limit(self):
        for threads in ("1", "2"):
            with self.subTest(threads=threads):
                status, out, err = T.chunkgen("-q", *BIG, "-t", threads, self.out, preexec_fn=limit_file_size)
                self.assertGreaterEqual(status, 0, "killed by a signal (SIGXFSZ?)")
                line = self.one_error(status, err, 1)
                self.assert_names_destination(line, self.out)
                self.assertEqual(T.listdir(self.dir), [])

    def test_file_size_limit_keeps_existing_destination(self):
        content = self.existing()
        status, out, err = T.chunkgen("-q", "-f", *BIG, self.out, preexec_fn=limit_file_size)
        self.assertGreaterEqual(status, 0)
        self.one_error(status, err, 1)
        self.assertEqual(self.read_bytes(), content)
        self.assertEqual(T.listdir(self.dir), ["out.h5"])

    def test_real_full_disk(self):
        mnt = self.mount_tmpfs("size=2m")
        dest = os.path.join(mnt, "x.h5")
        keep = os.path.join(mnt, "keep.h5")
        content = self.existing(keep, b"k" * 4096)
        for threads in ("1", "2"):
            for target, force in ((dest, []), (keep, ["-f"])):
                with self.subTest(threads=threads, target=os.path.basename(target)):
                    status, out, err = T.chunkgen("-q", *force, *BIG, "-t", threads, target)
                    self.assertGreaterEqual(status, 0)
                    line = self.one_error(status, err, 1)
                    self.assert_names_destination(line, target)
                    self.assertRegex(line.lower(), r"space|full")
                    self.assertEqual(T.listdir(mnt), ["keep.h5"])
                    self.assertEqual(self.read_bytes(keep), content)
        # The space is all given back: a small run fits afterwards.
        status, out, err = T.chunkgen("-q", "-n", 1000, "-d", 4, dest)
        self.assertEqual(status, 0, err)

    def test_read_only_directory(self):
        mnt = self.mount_tmpfs("size=1m")
        content = self.existing(os.path.join(mnt, "keep.h5"))
        p = subprocess.run(["mount", "-o", "remount,ro", mnt], capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest(f"cannot remount read-only: {p.stderr.strip()}")
        for target, force in ((os.path.join(mnt, "x.h5"), []), (os.path.join(mnt, "keep.h5"), ["-f"])):
            with self.subTest(target=os.path.basename(target)):
                status, out, err = T.chunkgen("-q", *force, "-n", 100, target)
                line = self.one_error(status, err, 1)
                self.assertIn(target, line)
                self.assertEqual(T.listdir(mnt), ["keep.h5"])
                self.assertEqual(self.read_bytes(os.path.join(mnt, "keep.h5")), content)


class Interface(Base):
    def test_help(self):
        for flag in ("--help", "-h"):
            status, out, err = T.chunkgen(flag)
            self.assertEqual(status, 0, err)
            self.assertEqual(err, "")
            self.assertIn("Usage: chunkgen", out)
            lines = out.splitlines()
            for opt in ("--samples", "--features", "--centers ", "--cluster-std", "--center-box", "--centers-from",
                        "--chunk-rows", "--dtype", "--compression", "--seed", "--threads"):
                i = next((i for i, l in enumerate(lines) if opt in l), None)
                self.assertIsNotNone(i, f"{opt} missing from --help")
                self.assertIn("[default:", lines[i] + lines[i + 1] if i + 1 < len(lines) else lines[i], opt)
            for opt in ("--no-shuffle", "--no-labels", "--force", "--quiet", "--version"):
                self.assertIn(opt, out)
            # Defaults shown are the real ones.
            self.assertRegex(out, r"--samples.*\[default: 1M\]")
            self.assertRegex(out, r"--features.*\[default: 20\]")
            self.assertRegex(out, r"--centers .*\[default: 12\]")
            self.assertRegex(out, r"--chunk-rows.*\[default: 200000\]")
            self.assertRegex(out, r"--compression.*\[default: zstd:3\]")
        self.assertEqual(T.listdir(self.dir), [])

    def test_version(self):
        for flag in ("--version", "-V"):
            status, out, err = T.chunkgen(flag)
            self.assertEqual(status, 0, err)
            self.assertEqual(err, "")
            self.assertRegex(out, r"^chunkgen .*\d+\.\d+")

    def test_quiet_prints_nothing(self):
        status, out, err = T.chunkgen("-q", "-n", 5000, "--chunk-rows", 1000, self.out)
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "")
        self.assertEqual(err, "")

    def test_default_prints_a_summary_and_no_progress_off_a_terminal(self):
        status, out, err = T.chunkgen("-n", 5000, "-d", 3, "--chunk-rows", 1000, self.out)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "", "progress on stderr although it is not a terminal")
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        self.assertIn("out.h5", lines[0])
        self.assertRegex(lines[0], r"5000 x 3")
        self.assertRegex(lines[0], r"\b5 chunks\b")

    def test_verbose_shows_progress_off_a_terminal(self):
        status, out, err = T.chunkgen("-v", "-n", 5000, "--chunk-rows", 1000, self.out)
        self.assertEqual(status, 0, err)
        self.assertIn("5/5", err)

    def run_on_pty(self, *args, columns=None):
        master, slave = pty.openpty()
        if columns:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        try:
            p = subprocess.Popen([CHUNKGEN, *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=slave)
            os.close(slave)
            slave = None
            chunks = []
            while True:
                r, _, _ = select.select([master], [], [], 60)
                if not r:
                    break
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            out = p.communicate(timeout=60)[0]
            return p.returncode, out.decode(), b"".join(chunks).decode(errors="replace")
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)

    def test_progress_bar_on_a_terminal(self):
        status, out, err = self.run_on_pty("-n", 5000, "--chunk-rows", 1000, self.out)
        self.assertEqual(status, 0, err)
        self.assertIn("5/5", err)
        self.assertIn("chunks", err)
        self.assertNotIn("error", err)
        self.assertEqual(len(out.splitlines()), 1)

    def test_progress_bar_fits_a_narrow_terminal(self):
        # A line wider than the terminal wraps, and \r then redraws only its last part: the bar is cut to the
        # width (before, 80 characters on any terminal).
        status, out, err = self.run_on_pty("-n", 20000, "--chunk-rows", 1000, self.out, columns=30)
        self.assertEqual(status, 0, err)
        frames = [f for line in err.replace("\r\n", "\n").split("\n") for f in line.split("\r") if f]
        self.assertTrue(frames, err)
        self.assertTrue(any("[#" in f for f in frames), frames)  # the bar was drawn
        for f in frames:
            self.assertLessEqual(len(f), 29, frames)

    def test_quiet_on_a_terminal(self):
        status, out, err = self.run_on_pty("-q", "-n", 5000, "--chunk-rows", 1000, self.out)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        self.assertEqual(out, "")


if __name__ == "__main__":
    unittest.main()
