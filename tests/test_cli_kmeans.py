"""kmeans-ooc as a user sees it: exit statuses and the one-line error contract, usage checked before any data
is read, nothing lost on failure or signal, --force, the labels command, help, version, -v and --json."""
import errno
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

import ooc_testlib as T

import numpy as np

h5py = T.h5py()

KMEANS = T.tool("kmeans-ooc")
# A fit that runs for seconds on one thread (about 3 s in Release): long enough to interrupt.
SLOW_INPUT = "blobs:samples=3M,features=20"

TMP = None


def setUpModule():
    global TMP
    TMP = tempfile.TemporaryDirectory()
    # Shared inputs, made once: 50000 x 4 in five 10000-row chunks, and a model fitted to it.
    status, out, err = T.chunkgen("-q", "-n", 50000, "-d", 4, "-c", 3, "--chunk-rows", 10000, "--seed", 3,
                                  shared("blobs.h5"))
    assert status == 0, err
    status, out, err = T.run([KMEANS, "fit", shared("blobs.h5"), "-k", 3, "-q", "-o", shared("model.h5"),
                              "--labels", shared("labels.h5")])
    assert status == 0, err


def tearDownModule():
    TMP.cleanup()


def shared(name):
    return os.path.join(TMP.name, name)


def kmeans(*args, **kw):
    return T.run([KMEANS, *args], **kw)


def temporaries(names):
    """Hidden names: the tool's temporaries are '.NAME.XXXXXX' beside the destination."""
    return [n for n in names if n.startswith(".")]


class Base(T.TempDirTest):
    def one_error(self, status, err, expected_status, *needles):
        return T.assert_one_error(self, "kmeans-ooc", status, err, expected_status, *needles)

    def write_h5(self, name, **datasets):
        p = self.path(name)
        with h5py.File(p, "w") as f:
            for key, value in datasets.items():
                if isinstance(value, dict):
                    f.create_dataset(key, **value)
                else:
                    f[key] = value
        return p

    def existing(self, name, content=b"precious bytes, not HDF5\n" * 50):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(content)
        return p, content

    def read_bytes(self, p):
        with open(p, "rb") as f:
            return f.read()

    def assert_dir(self, names, what=""):
        self.assertEqual(T.listdir(self.dir), sorted(names), what)


class BadUsage(Base):
    """Exit 2, one line naming the option, before any data is read: the input does not even exist."""

    def test_bad_option_values(self):
        missing = self.path("missing.h5")
        cases = [
            (["-k", "0"], "--n-clusters"),
            (["-k", "abc"], "--n-clusters"),
            (["-k", "-3"], "--n-clusters"),
            (["--n-clusters", "1.5"], "--n-clusters"),
            (["--init", "foo"], "--init"),
            (["--init", ""], "--init"),
            (["--oversampling-factor", "0"], "--oversampling-factor"),
            (["--oversampling-factor", "-1"], "--oversampling-factor"),
            (["--oversampling-factor", "nan"], "--oversampling-factor"),
            (["--init-max-iter", "0"], "--init-max-iter"),
            (["--max-iter", "0"], "--max-iter"),
            (["--max-iter", "x"], "--max-iter"),
            (["--tol", "-1"], "--tol"),
            (["--tol", "abc"], "--tol"),
            (["-t", "0"], "--threads"),
            (["--threads", "-2"], "--threads"),
            (["--memory-limit", "x"], "--memory-limit"),
            (["--memory-limit", "0"], "--memory-limit"),
            (["--seed", "-1"], "--seed"),
        ]
        # Values out of range say so, rather than that they are no number.
        for args, option, why in ((["--tol", "1e999"], "--tol", "not a finite number a double holds"),
                                  (["--tol", "inf"], "--tol", "not a finite number a double holds"),
                                  (["--tol", "0.1.2"], "--tol", "not a number"),
                                  (["--seed", "18446744073709551616"], "--seed", "too large"),
                                  (["--memory-limit", "1e30"], "--memory-limit", "too large"),
                                  (["-k", "1e30"], "--n-clusters", "too large"),
                                  # --json prints the seed as a JSON integer, which is an int64
                                  (["--seed", "9223372036854775808"], "--seed", "at most 9223372036854775807")):
            with self.subTest(args=args):
                status, out, err = kmeans("fit", missing, *args)
                self.one_error(status, err, 2, option, f"'{args[1]}'", why)
        for args, option in cases:
            with self.subTest(args=args):
                status, out, err = kmeans("fit", missing, *args, "-o", self.path("m.h5"))
                self.one_error(status, err, 2, option, f"'{args[1]}'")
                self.assertEqual(out, "")
                self.assert_dir([], "bad usage wrote something")

    def test_bad_blobs_spec(self):
        # A malformed generated input is bad usage (exit 2, as a bad option value), in one line naming the key,
        # for fit and predict alike.
        for spec, needle in (("blobs:samples=abc", "samples"), ("blobs:foo=1", "foo"),
                             ("blobs:samples=0", "samples"), ("blobs:centers=1e9", "centers")):
            for args in (["fit", spec, "-k", 1], ["predict", shared("model.h5"), spec, "--labels", self.path("l.h5")]):
                with self.subTest(args=args):
                    status, out, err = kmeans(*args)
                    self.one_error(status, err, 2, needle)
                    self.assert_dir([])

    def test_empty_input_names(self):
        for spec in ("", ":/X", shared("blobs.h5") + ":"):
            for args in (["fit", spec, "-k", 1], ["predict", shared("model.h5"), spec, "--labels", self.path("l.h5")]):
                with self.subTest(args=args):
                    status, out, err = kmeans(*args)
                    self.one_error(status, err, 2, "INPUT", "not FILE.h5[:/dataset]")
                    self.assert_dir([])

    def test_unknown_and_missing_options(self):
        missing = self.path("missing.h5")
        for args, needle in ((["--bogus"], "--bogus"), (["-Z"], "-Z"), (["-k"], "-k"), (["--init"], "--init"),
                             (["--bogus=3"], "--bogus=3"), (["--json=yes"], "--json: takes no value"),
                             (["--force=1"], "--force: takes no value"), (["--quiet="], "--quiet: takes no value")):
            with self.subTest(args=args):
                status, out, err = kmeans("fit", missing, *args)
                line = self.one_error(status, err, 2, needle)
                self.assertTrue(line.isprintable(), line)

    def test_ambiguous_abbreviations(self):
        # getopt_long takes unique abbreviations (--max for --max-iter); one that several options share was
        # called an unknown option.
        missing = self.path("missing.h5")
        for arg, names in (("--m", "--max-iter, --memory-limit, --model"), ("--t=3", "--tol, --threads"),
                           ("--ve", "--verbose, --version")):
            with self.subTest(arg=arg):
                status, out, err = kmeans("fit", missing, arg, "1")
                self.one_error(status, err, 2, arg.split("=")[0] + ": ambiguous option", names)
        status, out, err = kmeans("fit", missing, "--max", "5")  # unique: taken, then the input is missing
        self.one_error(status, err, 1, "missing.h5")

    def test_counts_written_alike(self):
        # -t took plain digits only, while every other count takes +2, 2.0, 1e0; the ranges say their limit.
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", "3", "-t", "+2", "-q", "--json")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out)["parameters"]["threads"], 2)
        for option, value, limit in (("--max-iter", "2147483647", "1000000000"),
                                     ("--init-max-iter", "1073741824", "1000000000")):
            with self.subTest(option=option):
                status, out, err = kmeans("fit", self.path("missing.h5"), option, value)
                self.one_error(status, err, 2, option, f"at most {limit}")

    def test_commands(self):
        status, out, err = kmeans()
        self.one_error(status, err, 2, "command")
        status, out, err = kmeans("frobnicate", self.path("x.h5"))
        self.one_error(status, err, 2, "frobnicate")
        status, out, err = kmeans("fit")
        self.one_error(status, err, 2, "INPUT")
        status, out, err = kmeans("fit", "a.h5", "b.h5")
        self.one_error(status, err, 2, "INPUT")
        status, out, err = kmeans("predict", shared("model.h5"))
        self.one_error(status, err, 2, "MODEL")
        status, out, err = kmeans("labels")
        self.one_error(status, err, 2, "labels")

    def test_predict_needs_labels(self):
        status, out, err = kmeans("predict", shared("model.h5"), shared("blobs.h5"))
        self.one_error(status, err, 2, "--labels")
        status, out, err = kmeans("predict", shared("model.h5"), shared("blobs.h5"), "-o", self.path("m.h5"),
                                  "--labels", self.path("l.h5"))
        self.one_error(status, err, 2, "--model")
        self.assert_dir([])

    def test_labels_options_belong_to_labels(self):
        for args in (["--rows", "1:2"], ["--chunk", "1"]):
            with self.subTest(args=args):
                status, out, err = kmeans("fit", self.path("missing.h5"), *args)
                self.one_error(status, err, 2, args[0])
        status, out, err = kmeans("labels", shared("labels.h5"), "--rows", "1:2", "--chunk", "1")
        self.one_error(status, err, 2, "--rows", "--chunk")
        self.assertEqual(out, "")

    def test_model_and_labels_same_file(self):
        # However the one file is spelled, and with --force too (one output would silently replace the other).
        same = self.path("same.h5")
        dotted = os.path.join(self.dir, ".", "same.h5")
        for model, labels in ((same, same), (same, same + ":/labels"), (dotted, same), (same, dotted + ":/lab")):
            for force in ([], ["-f"]):
                with self.subTest(model=model, labels=labels, force=force):
                    for name in T.listdir(self.dir):  # what an earlier case may have left
                        os.remove(self.path(name))
                    status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", *force, "-o", model,
                                              "--labels", labels)
                    self.one_error(status, err, 2, "same file")
                    self.assert_dir([])

    def test_output_is_an_input(self):
        inp = self.path("in.h5")
        with open(shared("blobs.h5"), "rb") as src, open(inp, "wb") as dst:
            dst.write(src.read())
        content = self.read_bytes(inp)
        model = self.path("model.h5")
        with open(shared("model.h5"), "rb") as src, open(model, "wb") as dst:
            dst.write(src.read())
        model_content = self.read_bytes(model)
        cases = [
            ["fit", inp, "-f", "-o", inp],
            ["fit", inp, "-f", "--labels", inp + ":/labels"],
            ["fit", inp + ":/X", "-f", "--labels", self.path("./in.h5")],
            ["predict", model, inp, "-f", "--labels", inp + ":/lab"],
            ["predict", model, inp, "-f", "--labels", model],
        ]
        for argv in cases:
            with self.subTest(argv=argv):
                status, out, err = kmeans(*argv)
                self.one_error(status, err, 2, "in")
                self.assertEqual(self.read_bytes(inp), content, "the input was written")
                self.assertEqual(self.read_bytes(model), model_content, "the model was written")
                self.assert_dir(["in.h5", "model.h5"])

    def test_output_is_a_file_the_input_reads(self):
        """Files an input reaches through an external link, a virtual dataset (sources beside it, one of them
        virtual in turn) or external raw storage are inputs too: an output naming one is refused as usage,
        before anything is written; a file beside them that the input does not read may still be written."""
        X = np.arange(1200, dtype=np.float64).reshape(300, 4) % 97
        os.mkdir(self.path("sub"))
        self.write_h5("target.h5", **{"data/X": X})
        self.write_h5("sub/part1.h5", part=X[:150])
        self.write_h5("sub/part2.h5", part=X[150:])
        self.write_h5("centres.h5", cluster_centers=X[:3])
        with h5py.File(self.path("link.h5"), "w") as f:
            f["X"] = h5py.ExternalLink("target.h5", "/data/X")
            f["cluster_centers"] = h5py.ExternalLink("centres.h5", "/cluster_centers")
        # A chain: chain.h5:/X -> hop.h5:/g (a group) whose /g/X -> target.h5; and a soft link onto it.
        with h5py.File(self.path("hop.h5"), "w") as f:
            f["g/X"] = h5py.ExternalLink("target.h5", "/data/X")
        with h5py.File(self.path("chain.h5"), "w") as f:
            f["h"] = h5py.ExternalLink("hop.h5", "/g")
            f["X"] = h5py.SoftLink("/h/X")
        layout = h5py.VirtualLayout(shape=(300, 4), dtype="f8")
        layout[:150] = h5py.VirtualSource("part1.h5", "part", shape=(150, 4))  # named relative to sub/
        layout[150:] = h5py.VirtualSource("part2.h5", "part", shape=(150, 4))
        with h5py.File(self.path("sub/virtual.h5"), "w") as f:
            f.create_virtual_dataset("X", layout)
        outer = h5py.VirtualLayout(shape=(300, 4), dtype="f8")
        outer[:] = h5py.VirtualSource(self.path("sub/virtual.h5"), "X", shape=(300, 4))
        with h5py.File(self.path("virtual_of_virtual.h5"), "w") as f:
            f.create_virtual_dataset("X", outer)
        X.tofile(self.path("raw.bin"))
        cwd = os.getcwd()
        os.chdir(self.dir)  # external raw storage is named from the current directory
        try:
            with h5py.File("external.h5", "w") as f:
                f.create_dataset("X", shape=X.shape, dtype="<f8", external=[("raw.bin", 0, X.nbytes)])
            names = sorted(T.listdir(self.dir))
            before = {n: self.read_bytes(self.path(n)) for n in names if n != "sub"}
            before.update({f"sub/{n}": self.read_bytes(self.path(f"sub/{n}")) for n in T.listdir(self.path("sub"))})
            cases = [
                (["fit", "link.h5", "-f", "-o", "target.h5"], "target.h5"),
                (["fit", "chain.h5", "-f", "-o", "hop.h5"], "hop.h5"),  # a file on the way, not at its end
                (["fit", "chain.h5", "-f", "--labels", "target.h5"], "target.h5"),
                (["fit", "sub/virtual.h5", "-f", "--labels", "sub/part1.h5"], "part1.h5"),
                (["fit", "virtual_of_virtual.h5", "-f", "--labels", "sub/part2.h5:/labels"], "part2.h5"),
                (["fit", "external.h5", "-f", "-o", "raw.bin"], "raw.bin"),
                (["predict", "link.h5", "sub/virtual.h5", "-f", "--labels", "centres.h5"], "centres.h5"),
            ]
            for argv, needle in cases:
                with self.subTest(argv=argv):
                    status, out, err = kmeans(*argv)
                    self.one_error(status, err, 2, needle, "input")
                    for n, content in before.items():
                        self.assertEqual(self.read_bytes(self.path(n)), content, f"{n} was written")
                    self.assertEqual(sorted(T.listdir(self.dir)), names)
            # The same inputs with outputs they do not read: the data read through them is the data.
            for inp in ("link.h5", "chain.h5", "sub/virtual.h5", "virtual_of_virtual.h5", "external.h5"):
                with self.subTest(inp=inp):
                    status, out, err = kmeans("fit", inp, "-k", 3, "-q", "-f", "--json", "--labels", "l.h5")
                    self.assertEqual((status, err), (0, ""))
                    with h5py.File(self.path("l.h5"), "r") as f:
                        self.assertEqual(f["labels"].shape, (300,))
                    self.assertEqual(json.loads(out)["n_samples"], 300)
        finally:
            os.chdir(cwd)

    def tree(self):
        """Every file below self.dir, relative name -> its bytes (a symbolic link: where it leads)."""
        files = {}
        for top, dirs, names in os.walk(self.dir):
            for n in names:
                p = os.path.join(top, n)
                files[os.path.relpath(p, self.dir)] = os.readlink(p) if os.path.islink(p) else self.read_bytes(p)
        return files

    def refused_all(self, cases):
        """Each (argv, env, needle) run from self.dir is refused as usage, naming the output, and writes nothing."""
        before = self.tree()
        for argv, env, needle in cases:
            with self.subTest(argv=argv, env=env):
                status, out, err = kmeans(*argv, cwd=self.dir, env=dict(os.environ, **env))
                self.one_error(status, err, 2, needle, "input")
                self.assertEqual(self.tree(), before)

    def reads_300_rows(self, inp, env):
        """inp (from self.dir) reads as 300 rows under env (h5py agrees), and does not without it."""
        env = dict(os.environ, **env)
        oracle = subprocess.run(["/usr/bin/python3", "-c", "import h5py, sys; print(h5py.File(sys.argv[1])['X'].shape)",
                                 inp], env=env, cwd=self.dir, capture_output=True, text=True)
        self.assertEqual(oracle.stdout.strip(), "(300, 4)", oracle.stderr)
        status, out, err = kmeans("fit", inp, "-k", 3, "-q", "--json", cwd=self.dir, env=env)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out)["n_samples"], 300)
        status, out, err = kmeans("fit", inp, "-k", 3, "-q", cwd=self.dir)
        self.assertNotEqual(status, 0, "the input reads without the variable: the test shows nothing")

    def test_output_is_a_file_the_input_reads_under_a_prefix(self):
        """HDF5 finds the target of an external link under HDF5_EXT_PREFIX, a virtual dataset's source under
        HDF5_VDS_PREFIX and external raw storage under HDF5_EXTFILE_PREFIX: an output naming one is an input
        too (fit and predict replaced it, exit 0)."""
        X = np.arange(1200, dtype=np.float64).reshape(300, 4) % 97
        os.mkdir(self.path("d"))
        os.mkdir(self.path("links"))
        self.write_h5("d/data.h5", X=X)
        self.write_h5("d/centres.h5", cluster_centers=X[:3])
        X.tofile(self.path("d/raw.bin"))
        with h5py.File(self.path("links/ext.h5"), "w") as f:
            f["X"] = h5py.ExternalLink("data.h5", "/X")
        with h5py.File(self.path("links/model.h5"), "w") as f:
            f["cluster_centers"] = h5py.ExternalLink("centres.h5", "/cluster_centers")
        layout = h5py.VirtualLayout(shape=X.shape, dtype="f8")
        layout[:] = h5py.VirtualSource("data.h5", "X", shape=X.shape)
        with h5py.File(self.path("links/virtual.h5"), "w") as f:
            f.create_virtual_dataset("X", layout)
        self.write_h5("links/external.h5", X={"shape": X.shape, "dtype": "<f8", "external": [("raw.bin", 0, X.nbytes)]})
        d = self.path("d")
        ext, vds = {"HDF5_EXT_PREFIX": "/nonexistent:" + d}, {"HDF5_VDS_PREFIX": "/nonexistent:" + d}
        efile, origin = {"HDF5_EXTFILE_PREFIX": d}, {"HDF5_EXTFILE_PREFIX": "${ORIGIN}/../d"}
        for inp, env in (("links/ext.h5", ext), ("links/virtual.h5", vds), ("links/external.h5", efile),
                         ("links/external.h5", origin)):
            with self.subTest(inp=inp, env=env):
                self.reads_300_rows(inp, env)
        model = shared("model.h5")
        self.refused_all([
            (["fit", "links/ext.h5", "-k", "3", "-f", "-o", "d/data.h5"], ext, "data.h5"),
            (["predict", model, "links/ext.h5", "-f", "--labels", "d/data.h5:/labels"], ext, "data.h5"),
            (["predict", "links/model.h5", "d/data.h5", "-f", "--labels", "d/centres.h5"], ext, "centres.h5"),
            (["fit", "links/virtual.h5", "-k", "3", "-f", "-o", "d/data.h5"], vds, "data.h5"),
            (["predict", model, "links/virtual.h5", "-f", "--labels", "d/data.h5:/labels"], vds, "data.h5"),
            (["fit", "links/external.h5", "-k", "3", "-f", "-o", "d/raw.bin"], efile, "raw.bin"),
            (["fit", "links/external.h5", "-k", "3", "-f", "--labels", "d/raw.bin"], origin, "raw.bin"),
            (["predict", model, "links/external.h5", "-f", "--labels", "d/raw.bin:/labels"], efile, "raw.bin"),
        ])

    def test_output_is_a_file_the_input_reads_by_another_way(self):
        """HDF5 also finds a linked file beside the real path of the file linking to it (reached through a
        symbolic link), and an absolute name that is not there by its last part beside the linking file."""
        X = np.arange(1200, dtype=np.float64).reshape(300, 4) % 97
        os.mkdir(self.path("d"))
        os.mkdir(self.path("s"))
        self.write_h5("d/data.h5", X=X)
        with h5py.File(self.path("d/near.h5"), "w") as f:
            f["X"] = h5py.ExternalLink("data.h5", "/X")
        os.symlink("../d/near.h5", self.path("s/near.h5"))
        with h5py.File(self.path("d/moved.h5"), "w") as f:
            f["X"] = h5py.ExternalLink("/nonexistent/data.h5", "/X")
        for inp in ("s/near.h5", "d/moved.h5"):
            with self.subTest(inp=inp):
                status, out, err = kmeans("fit", inp, "-k", 3, "-q", "--json", cwd=self.dir)
                self.assertEqual((status, err), (0, ""))
                self.assertEqual(json.loads(out)["n_samples"], 300)
        self.refused_all([
            (["fit", "s/near.h5", "-k", "3", "-f", "-o", "d/data.h5"], {}, "data.h5"),
            (["fit", "d/moved.h5", "-k", "3", "-f", "--labels", "d/data.h5"], {}, "data.h5"),
        ])

    def test_output_check_of_a_long_chain_of_links(self):
        # The same file stands at several of the places looked at (as named from the current directory, beside
        # the linking file, its real path): the check followed the rest of the chain again from each, 2^15 ways
        # for 15 links (minutes); now once.
        self.write_h5("a15.h5", X=np.arange(1200, dtype=np.float64).reshape(300, 4) % 97)
        for i in range(15):
            with h5py.File(self.path(f"a{i}.h5"), "w") as f:
                f["X"] = h5py.ExternalLink(f"a{i + 1}.h5", "/X")
        self.existing("other.h5")
        status, out, err = kmeans("fit", "a0.h5", "-k", 3, "-q", "-f", "--json", "-o", "other.h5", cwd=self.dir,
                                  timeout=60)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out)["n_samples"], 300)
        self.refused_all([(["fit", "a0.h5", "-k", "3", "-f", "-o", "a15.h5"], {}, "a15.h5")])

    def test_labels_values_are_usage_errors(self):
        for args, needle in ((["--rows", "a:b"], "--rows"), (["--rows", "5"], "--rows"), (["--rows", "1.5:3"], "--rows"),
                             (["--rows", "0:1e-400"], "--rows"), (["--rows", "-1e-308:"], "--rows"),
                             (["--rows", "+3:"], "--rows"), (["--rows", "--3:"], "--rows"), (["--rows", "1k5:"], "--rows"),
                             (["--chunk", "x"], "--chunk")):
            for labels in (shared("labels.h5"), self.path("missing.h5")):  # checked before the file is opened
                with self.subTest(args=args, labels=labels):
                    status, out, err = kmeans("labels", labels, *args)
                    self.one_error(status, err, 2, needle)
                    self.assertEqual(out, "")


class RuntimeFailures(Base):
    """Exit 1, one line naming the file, dataset, chunk or row."""

    def test_virtual_dataset_leading_back_to_itself(self):
        # HDF5 1.10 recursed for ever reading these (fit, predict and chunkinfo --stats crashed, SIGSEGV, and
        # left the outputs' temporaries): refused before any read. A virtual dataset of a virtual dataset of
        # data still reads; one whose source is missing is refused, naming it (HDF5 gives fill values for its
        # rows: they were clustered, 300 zeros, exit 0).
        def virtual(name, source, dataset="X"):
            layout = h5py.VirtualLayout(shape=(300, 4), dtype="f8")
            layout[:] = h5py.VirtualSource(source, dataset, shape=(300, 4))
            with h5py.File(self.path(name), "w") as f:
                f.create_virtual_dataset("X", layout)
        virtual("a.h5", "b.h5")
        virtual("b.h5", "a.h5")
        virtual("self.h5", ".")
        self.write_h5("data.h5", X=np.arange(1200.0).reshape(300, 4))
        virtual("v1.h5", "data.h5")
        virtual("v2.h5", "v1.h5")
        virtual("missing.h5", "nowhere.h5")
        for name in ("a.h5", "self.h5"):
            with self.subTest(name=name):
                status, out, err = kmeans("fit", self.path(name), "-k", 2, "-q", "-o", self.path("m.h5"))
                self.one_error(status, err, 1, name, "lead back")
                status, out, err = T.run(["chunkinfo", self.path(name), "--stats"])
                T.assert_one_error(self, "chunkinfo", status, err, 1, name, "lead back")
        self.assertNotIn("m.h5", T.listdir(self.dir))
        self.assertEqual(temporaries(T.listdir(self.dir)), [])
        status, out, err = kmeans("fit", self.path("v2.h5"), "-k", 2, "-q", "--json")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out)["n_samples"], 300)
        with h5py.File(self.path("missing.h5"), "r") as f:
            self.assertEqual(np.count_nonzero(f["X"][:]), 0)  # what HDF5 reads there
        status, out, err = kmeans("fit", self.path("missing.h5"), "-k", 2, "-q")
        self.one_error(status, err, 1, "missing.h5", "nowhere.h5:X", "cannot be read")
        status, out, err = T.run(["chunkinfo", self.path("missing.h5")])  # described: nothing read
        self.assertEqual((status, err), (0, ""))
        # Sources where HDF5 finds them other than as named: an absolute name no longer there, whose file sits
        # beside the virtual dataset; a name under a directory of HDF5_VDS_PREFIX; beside the file a symbolic
        # link to the virtual dataset leads to. All read (h5py: the data).
        elsewhere = os.path.join(self.dir, "sub")
        os.mkdir(elsewhere)
        virtual("moved.h5", os.path.join(elsewhere, "data.h5"))
        shutil.copy(self.path("data.h5"), os.path.join(elsewhere, "prefixed.h5"))
        virtual("prefix.h5", "prefixed.h5")
        os.mkdir(os.path.join(elsewhere, "deep"))  # a relative name keeps its directories under the prefix
        shutil.copy(self.path("data.h5"), os.path.join(elsewhere, "deep", "deeper.h5"))
        virtual("prefix_deep.h5", "deep/deeper.h5")
        os.symlink(self.path("v1.h5"), os.path.join(elsewhere, "link.h5"))  # HDF5 looks beside v1.h5 itself
        env = dict(os.environ, HDF5_VDS_PREFIX="/nonexistent:" + elsewhere)
        for name in ("moved.h5", "prefix.h5", "prefix_deep.h5", "sub/link.h5"):
            with self.subTest(name=name):
                oracle = subprocess.run(["/usr/bin/python3", "-c", "import h5py, sys; print(h5py.File(sys.argv[1])"
                                         "['X'][:].sum())", self.path(name)], env=env, capture_output=True, text=True)
                self.assertEqual(float(oracle.stdout), np.arange(1200.0).sum(), oracle.stderr)
                status, out, err = kmeans("fit", self.path(name), "-k", 2, "-q", "--json", env=env)
                self.assertEqual((status, err), (0, ""))

    def test_spill_directory_too_small(self):
        """Per-row state spilled to a $TMPDIR with less room than it takes (4M rows: 32 MB in 4 MB): refused
        when the file is made, before any pass (no progress bar before the error, even with -v), naming the
        input; the outputs already there stay as they were."""
        mnt = self.mount_tmpfs("size=4m")
        (model, old_model), (labels, old_labels) = self.existing("m.h5"), self.existing("l.h5")
        before = T.listdir(self.dir)
        inp = "blobs:samples=4M,features=2"
        status, out, err = kmeans("fit", inp, "-k", 3, "-v", "-t", 1, "--memory-limit", "64M", "-o", model,
                                  "--labels", labels, "-f", env=dict(os.environ, TMPDIR=mnt))
        self.one_error(status, err, 1, inp, "per-row state", "30.5 MiB", mnt, os.strerror(errno.ENOSPC))
        self.assertEqual(out, "")
        self.assertEqual(T.listdir(self.dir), before)
        for path, content in ((model, old_model), (labels, old_labels)):
            with open(path, "rb") as f:
                self.assertEqual(f.read(), content)
        self.assertEqual(os.listdir(mnt), [])

    def test_long_path_keeps_the_reason(self):
        # A message longer than the room for it loses the middle of the path, not the reason at its end,
        # and is cut between characters (two-byte ones here): the line still decodes as UTF-8.
        deep = os.path.join(self.dir, "missing", "é" * 200, "y" * 200, "model.h5")
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", deep)
        line = self.one_error(status, err, 1, self.dir, "...", "yyy': ")  # the directory named, then why
        self.assertTrue(line.endswith(os.strerror(errno.ENOENT)), line)
        self.assertLess(len(line.encode()), 600)

    def fit_fails(self, inp, *needles, args=("-k", 3), **kw):
        model, labels = self.path("fail-model.h5"), self.path("fail-labels.h5")
        before = T.listdir(self.dir)
        status, out, err = kmeans("fit", inp, *args, "-o", model, "--labels", labels, **kw)
        line = self.one_error(status, err, 1, *needles)
        self.assertEqual(out, "")
        self.assert_dir(before, "a failing fit left a model, labels or a temporary behind")
        return line

    def test_more_clusters_than_rows(self):
        inp = self.write_h5("ten.h5", X=np.arange(30.0).reshape(10, 3))
        self.fit_fails(inp, "ten.h5", "20", "10", args=("-k", 20))
        # k = n is fine: every row its own cluster.
        status, out, err = kmeans("fit", inp, "-k", 10, "--json", "-q")
        self.assertEqual(status, 0, err)
        js = json.loads(out)
        self.assertEqual(js["inertia"], 0.0)
        self.assertEqual(sorted(js["cluster_sizes"]), [1] * 10)

    def test_nan_and_inf_rows(self):
        X = np.random.default_rng(0).normal(size=(5000, 3))
        for name, value, row, chunks in (("nan.h5", np.nan, 1234, None), ("inf.h5", np.inf, 4321, None),
                                         ("ninf-chunked.h5", -np.inf, 1234, (500, 3)),
                                         ("nan-f32.h5", np.nan, 4999, (1000, 3))):
            with self.subTest(name=name):
                bad = X.astype(np.float32) if "f32" in name else X.copy()
                bad[row, 1] = value
                inp = self.write_h5(name, X={"data": bad, "chunks": chunks})
                line = self.fit_fails(inp, name, f"row {row}")
                self.assertNotIn(f"row {row + 1}", line)
                line = self.predict_fails(self.write_h5("model3.h5", cluster_centers=X[:3]), inp, name, f"row {row}")
                self.assertNotIn(f"row {row + 1}", line)

    def predict_fails(self, model, inp, *needles, **kw):
        labels = self.path("fail-labels.h5")
        before = T.listdir(self.dir)
        for args in ((), ("--json",)):
            status, out, err = kmeans("predict", model, inp, "--labels", labels, *args, **kw)
            line = self.one_error(status, err, 1, *needles)
            self.assertEqual(out, "")
            self.assert_dir(before, "a failing predict left labels or a temporary behind")
        return line

    def test_squared_distances_overflow(self):
        # Finite values whose squared distances exceed float64 (numpy agrees: inf): refused, not an inertia of
        # inf (which --json could not print).
        X = np.random.default_rng(1).normal(size=(2000, 3)) * 1e160
        self.assertFalse(np.isfinite(((X - X[:1]) ** 2).sum()))
        inp = self.write_h5("huge.h5", X=X)
        self.fit_fails(inp, "huge.h5", "overflow", args=("-k", 2))
        self.predict_fails(self.write_h5("model2.h5", cluster_centers=np.zeros((2, 3))), inp, "huge.h5", "overflow")

    def test_inertia_overflow_is_said(self):
        # Every squared distance fits in float64, their sum does not: the inertia is inf (null in --json), as
        # scikit-learn's, and both fit and predict say so in one warning (it passed silently).
        X = np.tile([[0.0], [1.2e154]], (500, 1))
        with np.errstate(over="ignore"):
            self.assertEqual(((X - X.mean()) ** 2).sum(), np.inf)
        inp, model = self.write_h5("sum_overflow.h5", X=X), self.path("sum_overflow_model.h5")
        status, out, err = kmeans("fit", inp, "-k", 1, "--json", "-q", "-o", model)
        self.assertEqual(status, 0, err)
        self.assertIsNone(json.loads(out)["inertia"])
        warnings = T.error_lines(err)
        self.assertEqual(len(warnings), 1, err)
        self.assertRegex(warnings[0], r"^kmeans-ooc: warning: the inertia.*inf")
        status, out, err = kmeans("predict", model, inp, "--labels", self.path("sum_overflow_labels.h5"), "-q")
        self.assertEqual(status, 0, err)
        self.assertIn("inertia inf", out)
        self.assertEqual(len(T.error_lines(err)), 1, err)
        self.assertIn("warning: the inertia", err)

    def test_squared_distances_near_the_smallest_normal_are_said(self):
        # Data near 1e-161: squared distances near 1e-323, where a double keeps a bit or two, so that labels
        # and centres cannot be exact (a fit "converged" after one iteration with 179 of 1000 rows off their
        # nearest centre, silently). fit and predict say so in one warning; the same data at 1e-3 does not.
        rng = np.random.default_rng(5)
        X = np.c_[np.concatenate([rng.normal(.1, .03, 300), rng.normal(.5, .05, 400), rng.normal(.9, .03, 300)]),
                  rng.uniform(0, 1, 1000)]
        for e, warned in ((-535, True), (-10, False)):
            inp, model = self.write_h5(f"scale{e}.h5", X=np.ldexp(X, e)), self.path(f"scale{e}_model.h5")
            with self.subTest(e=e):
                status, out, err = kmeans("fit", inp, "-k", 3, "-q", "-o", model)
                self.assertEqual(status, 0, err)
                status, out, err2 = kmeans("predict", model, inp, "--labels", self.path(f"scale{e}_l.h5"), "-q")
                self.assertEqual(status, 0, err2)
                for said in (err, err2):
                    self.assertEqual(T.error_lines(said), [said.strip()] if warned else [], said)
                    if warned:
                        self.assertIn("warning: squared distances are near the smallest normal double", said)

    def test_variance_overflow(self):
        # One finite row so far out that its squared distance to the others overflows float64 (numpy: inf),
        # with every --init and --tol: refused at once, naming the feature. (Before, the default tol, as
        # infinite as the variance, converged at once and was refused for its inertia; --tol 0 ran on, and a
        # row at 1e155 among rows near 0 left k-means|| with weights of inf: exit 0 at 57x the inertia.)
        X = np.random.default_rng(2).normal(size=(30000, 4))
        X[12345, 2:] = 1e308
        with np.errstate(over="ignore", invalid="ignore"):
            self.assertFalse(np.isfinite(((X[12345] - X[0]) ** 2).sum()))
        inp = self.write_h5("outlier.h5", X=X)
        self.fit_fails(inp, "outlier.h5", "overflow", "feature 2", args=("-k", 3))
        Y = np.random.default_rng(3).normal(size=(30000, 2))
        Y[123, 0] = 1e155
        far = self.write_h5("far.h5", X=Y)
        for init in ("k-means||", "k-means++", "random"):
            with self.subTest(init=init):
                self.fit_fails(far, "far.h5", "overflow", "feature 0", args=("-k", 6, "--tol", 0, "--init", init))
        # 1e154 is still within reach: the row alone in its cluster, the blob's rows in the others.
        Y[123, 0] = 1e154
        near = self.write_h5("near.h5", X=Y)
        status, out, err = kmeans("fit", near, "-k", 3, "--tol", 0, "--json", "-q")
        self.assertEqual(status, 0, err)
        r = json.loads(out)
        self.assertTrue(r["converged"])
        self.assertIn(1, r["cluster_sizes"])
        rest = np.delete(Y, 123, axis=0)
        self.assertLess(r["inertia"], ((rest - rest.mean(axis=0)) ** 2).sum())

    def test_external_raw_data_truncated_or_missing(self):
        # HDF5 reads the bytes an external raw data file lacks as zeros: half the rows of a truncated one were
        # clustered as zeros (exit 0); a missing one failed with HDF5's words alone, not naming it. (HDF5 1.10
        # looks for relative names from the current directory, or under HDF5_EXTFILE_PREFIX.)
        X = np.random.default_rng(3).normal(size=(2000, 4))
        X[:700].tofile(self.path("a.bin"))
        X[700:].tofile(self.path("b.bin"))
        inp = self.write_h5("ext.h5", X={"shape": X.shape, "dtype": "<f8",
                                         "external": [("a.bin", 0, 700 * 32), ("b.bin", 0, h5py.h5f.UNLIMITED)]})
        status, out, err = kmeans("fit", inp, "-k", 3, "-q", cwd=self.dir)
        self.assertEqual((status, err), (0, ""))
        env = dict(os.environ, HDF5_EXTFILE_PREFIX="${ORIGIN}")
        status, out, err = kmeans("fit", inp, "-k", 3, "-q", env=env)
        self.assertEqual((status, err), (0, ""))
        os.truncate(self.path("b.bin"), 1000 * 32)
        self.fit_fails(inp, "ext.h5:/X", "'b.bin'", "truncated", cwd=self.dir)
        self.predict_fails(shared("model.h5"), inp, "ext.h5:/X", "'b.bin'", "truncated", env=env)
        os.unlink(self.path("a.bin"))
        self.fit_fails(inp, "ext.h5:/X", "'a.bin'", "not found", cwd=self.dir)

    def test_corrupt_chunk(self):
        inp = self.path("corrupt.h5")
        status, out, err = T.chunkgen("-q", "-n", 50000, "-d", 4, "-c", 3, "--chunk-rows", 10000, inp)
        self.assertEqual(status, 0, err)
        flip_chunk_bytes(inp, "X", 2)
        self.fit_fails(inp, "corrupt.h5:/X: chunk 2 (rows 20000..29999): zstd")
        # Every thread count and the file left as it was (inputs are never written).
        content = self.read_bytes(inp)
        for t in ("1", "2"):
            status, out, err = kmeans("fit", inp, "-k", 3, "-t", t)
            self.one_error(status, err, 1, "chunk 2")
        self.assertEqual(self.read_bytes(inp), content)

    def test_truncated_file(self):
        data = self.read_bytes(shared("blobs.h5"))
        for keep in (len(data) - 1000, len(data) // 2, 100):
            with self.subTest(keep=keep):
                inp = self.path("truncated.h5")
                with open(inp, "wb") as f:
                    f.write(data[:keep])
                self.fit_fails(inp, "truncated.h5")

    def test_not_hdf5(self):
        inp, _ = self.existing("text.h5")
        self.fit_fails(inp, "text.h5")

    def test_missing_file_and_dataset(self):
        self.fit_fails(self.path("missing.h5"), "missing.h5")
        inp = self.write_h5("some.h5", X=np.zeros((10, 2)))
        self.fit_fails(inp + ":/nope", "some.h5", "nope")
        self.fit_fails(inp + ":X", "some.h5:X", "No such file", "FILE.h5:/path")  # a file name, with a hint

    def test_wrong_shapes(self):
        inp = self.write_h5("shapes.h5", v=np.arange(10.0), cube=np.zeros((4, 3, 2)), empty=np.zeros((0, 3)),
                            nocols=np.zeros((10, 0)), text=np.zeros((10, 2), dtype="S4"))
        for ds, needle in (("/v", "1-D"), ("/cube", "3-D"), ("/empty", "/empty"), ("/nocols", "/nocols"),
                           ("/text", "/text")):
            with self.subTest(dataset=ds):
                self.fit_fails(inp + ":" + ds, "shapes.h5", needle, args=("-k", 1))

    def test_memory_limit_too_small(self):
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "--memory-limit", "1K",
                                  "--labels", self.path("l.h5"))
        self.one_error(status, err, 1, "blobs.h5", "memory limit")
        self.assert_dir([])

    def test_predict_feature_count_differs(self):
        inp = self.write_h5("five.h5", X=np.zeros((100, 5)))
        status, out, err = kmeans("predict", shared("model.h5"), inp, "--labels", self.path("l.h5"))
        self.one_error(status, err, 1, "five.h5", "5", "4")
        self.assert_dir(["five.h5"])

    def edited_model(self, name, **changes):
        """A copy of the shared model with datasets (arrays) and root attributes (scalars) replaced."""
        p = self.path(name)
        shutil.copy(shared("model.h5"), p)
        with h5py.File(p, "r+") as f:
            for key, value in changes.items():
                if isinstance(value, np.ndarray):
                    del f[key]
                    f[key] = value
                else:
                    f.attrs[key] = value
        return p

    def test_predict_model_attributes_as_h5py_writes_them(self):
        # A model's attributes written by another program, in the types h5py gives Python and numpy values:
        # a boolean enum, a fixed-length byte string, unsigned 64-bit and float counts. predict takes them.
        model = self.edited_model("h5py.h5", converged=np.True_, init=np.bytes_(b"random"),
                                  seed=np.uint64(2**64 - 1), n_iter=np.int8(7), max_iter=300.0, tol=np.float32(0.5))
        status, out, err = kmeans("predict", model, shared("blobs.h5"), "--labels", self.path("l.h5"))
        self.assertEqual(status, 0, err)

    def test_predict_malformed_models(self):
        garbage, _ = self.existing("garbage.h5")
        cases = {
            "garbage.h5": garbage,
            "nocentres.h5": self.write_h5("nocentres.h5", other=np.zeros((3, 4))),
            "flat.h5": self.write_h5("flat.h5", cluster_centers=np.zeros(4)),
            "nancentres.h5": self.write_h5("nancentres.h5", cluster_centers=np.full((3, 4), np.nan)),
            "nocluster.h5": self.write_h5("nocluster.h5", cluster_centers=np.zeros((0, 4))),
            "missing.h5": self.path("missing.h5"),
            # What a model holds besides its centres must agree with them.
            "twosizes.h5": self.edited_model("twosizes.h5", cluster_sizes=np.array([5, 7])),
            "flatsizes.h5": self.edited_model("flatsizes.h5", cluster_sizes=np.ones((3, 1), dtype=np.int64)),
            "negsizes.h5": self.edited_model("negsizes.h5", cluster_sizes=np.array([5, -1, 3])),
            "halfsizes.h5": self.edited_model("halfsizes.h5", cluster_sizes=np.array([5, 1.5, 3])),
            "kattr.h5": self.edited_model("kattr.h5", n_clusters=4),
            "dattr.h5": self.edited_model("dattr.h5", n_features=7),
            "wordattr.h5": self.edited_model("wordattr.h5", n_features="four"),
            # The other attributes are the fit's, loaded with the model: each must be a value it can take.
            "iterattr.h5": self.edited_model("iterattr.h5", n_iter=-1),
            "convattr.h5": self.edited_model("convattr.h5", converged=2),
            "initattr.h5": self.edited_model("initattr.h5", init="kmeans"),
            "numinitattr.h5": self.edited_model("numinitattr.h5", init=3),
            "tolattr.h5": self.edited_model("tolattr.h5", tol=-1.0),
            "seedattr.h5": self.edited_model("seedattr.h5", seed=1.5),
            "maxiterattr.h5": self.edited_model("maxiterattr.h5", max_iter=0),
        }
        for name, model in cases.items():
            with self.subTest(model=name):
                before = T.listdir(self.dir)
                status, out, err = kmeans("predict", model, shared("blobs.h5"), "--labels", self.path("l.h5"))
                self.one_error(status, err, 1, name)
                self.assert_dir(before)

    @unittest.skipIf(T.SANITIZED, "AddressSanitizer reports HDF5's own overrun (in its memcpy) first")
    def test_model_that_crashes_hdf5(self):
        # One byte of a model's attribute messages damaged (the size of the `converged` enum's base type,
        # 1 -> 0x620001, found by fuzzing): HDF5 1.10 crashes reading its attributes, h5py too. predict says
        # so in one line and exits 1 (it died by SIGSEGV), leaving nothing behind.
        model = self.path("model.h5")
        status, _, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", model)
        self.assertEqual(status, 0, err)
        data = bytearray(self.read_bytes(model))
        self.assertEqual(data.count(b"converged\0"), 1)
        at = data.find(b"converged\0") + 30
        self.assertEqual(data[at - 2:at + 2], b"\x01\x00\x00\x00")  # the base type's size: 1 byte
        data[at] = 98
        damaged = self.path("damaged.h5")
        with open(damaged, "wb") as f:
            f.write(data)
        oracle = subprocess.run(["/usr/bin/python3", "-c", "import h5py, sys; dict(h5py.File(sys.argv[1]).attrs)",
                                 damaged], capture_output=True)
        self.assertEqual(oracle.returncode, -signal.SIGSEGV)
        before = T.listdir(self.dir)
        status, out, err = kmeans("predict", damaged, shared("blobs.h5"), "--labels", self.path("l.h5"))
        self.one_error(status, err, 1, "damaged.h5", "HDF5 crashed", "damaged")
        self.assert_dir(before)


def flip_chunk_bytes(path, dataset, chunk):
    """Invert 16 bytes in the middle of a stored chunk (HDF5 and zstd headers intact: the checksum must catch it)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk)
    at = info.byte_offset + info.size // 2
    with open(path, "r+b") as fh:
        fh.seek(at)
        data = fh.read(16)
        fh.seek(at)
        fh.write(bytes(b ^ 0xFF for b in data))


class Outputs(Base):
    def test_existing_outputs_need_force(self):
        # Refused when the options are checked, before the input is read: the input here holds a NaN, and the
        # error is about the existing file, not the data.
        nan = np.zeros((100, 2))
        nan[5, 0] = np.nan
        inp = self.write_h5("nan.h5", X=nan)
        for which in ("model", "labels"):
            with self.subTest(existing=which):
                dest, content = self.existing(f"{which}.h5")
                flag = "-o" if which == "model" else "--labels"
                status, out, err = kmeans("fit", inp, "-k", 1, flag, dest)
                # The tool gives 2 (it checks at option time); chunkgen gives 1 for the same case.
                self.assertIn(status, (1, 2))
                line = self.one_error(status, err, status, f"{which}.h5", "--force")
                self.assertNotIn("row", line)
                self.assertEqual(self.read_bytes(dest), content)
                os.remove(dest)
        status, out, err = kmeans("predict", shared("model.h5"), shared("blobs.h5"), "--labels",
                                  self.existing("pl.h5")[0])
        self.assertIn(status, (1, 2))
        self.one_error(status, err, status, "pl.h5", "--force")
        self.assert_dir(["nan.h5", "pl.h5"])

    def test_dangling_link_is_an_existing_output(self):
        # A model name that is a symbolic link to nothing: refused before the fit (it was taken for absent,
        # the fit ran, its labels were renamed into place and then the model's rename refused the link).
        os.symlink("nowhere.h5", self.path("model.h5"))
        labels = self.path("labels.h5")
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-o", self.path("model.h5"), "--labels", labels)
        self.assertEqual(out, "")
        self.one_error(status, err, status, "model.h5", "--force")
        self.assertIn(status, (1, 2))
        self.assertFalse(os.path.exists(labels))
        self.assert_dir(["model.h5"])

    def test_force_replaces(self):
        model, mc = self.existing("model.h5")
        labels, lc = self.existing("labels.h5")
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-f", "-o", model, "--labels", labels)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        with T.open_h5(model) as f:
            self.assertEqual(f["cluster_centers"].shape, (3, 4))
        with T.open_h5(labels) as f:
            self.assertEqual(f["labels"].shape, (50000,))
        self.assert_dir(["labels.h5", "model.h5"])
        # Force over the tool's own outputs again, and predict over an existing labels file.
        status, out, err = kmeans("predict", model, shared("blobs.h5"), "-q", "-f", "--labels", labels)
        self.assertEqual(status, 0, err)
        self.assert_dir(["labels.h5", "model.h5"])

    def test_failing_fit_keeps_existing_outputs(self):
        nan = np.zeros((100, 2))
        nan[50, 1] = np.nan
        inp = self.write_h5("nan.h5", X=nan)
        model, mc = self.existing("model.h5")
        labels, lc = self.existing("labels.h5", b"other precious bytes\n" * 30)
        status, out, err = kmeans("fit", inp, "-k", 1, "-f", "-o", model, "--labels", labels)
        self.one_error(status, err, 1, "row 50")
        self.assertEqual(self.read_bytes(model), mc)
        self.assertEqual(self.read_bytes(labels), lc)
        self.assert_dir(["labels.h5", "model.h5", "nan.h5"])

    def test_standard_output_full(self):
        # /dev/full takes no byte: results that cannot be reported fail the run (exit 1, one error line), and
        # since they are reported before the renames, the outputs stay as they were, as after any failure.
        model, mc = self.existing("model.h5")
        labels, lc = self.existing("labels.h5")
        for argv in (["fit", shared("blobs.h5"), "-k", 3, "-f", "-o", model, "--labels", labels],
                     ["fit", shared("blobs.h5"), "-k", 3, "-f", "--json", "-o", model],
                     ["predict", shared("model.h5"), shared("blobs.h5"), "-f", "--labels", labels],
                     ["labels", shared("labels.h5"), "--rows", "0:3"],
                     ["--help"]):
            with self.subTest(argv=argv[0:2]):
                status, err = T.run_into_full([KMEANS, *argv])
                self.one_error(status, err, 1, "standard output", "No space left on device")
                self.assertEqual(self.read_bytes(model), mc)
                self.assertEqual(self.read_bytes(labels), lc)
                self.assert_dir(["labels.h5", "model.h5"])

    def test_destination_appearing_during_the_run(self):
        # Someone creates the model's destination while the fit runs: the fit fails without --force, and the
        # labels, whose destination was free, do not appear either (both are checked before either rename).
        model, labels = self.path("model.h5"), self.path("labels.h5")
        env = T.at_first_fsync(tempfile.mkdtemp(dir=self.dir), create=model)
        before = T.listdir(self.dir)
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-o", model, "--labels", labels, env=env)
        self.one_error(status, err, 1, "model.h5", "exists")
        self.assert_dir(before + ["model.h5"], "labels or a temporary file appeared")
        self.assertEqual(self.read_bytes(model), b"")

    def test_failed_rename_takes_back_the_other(self):
        # The model's rename fails (EIO) after the labels' went in: the old labels come back, by exchange or,
        # where the file system cannot exchange (NFS), from a hard link kept meanwhile (they stayed replaced).
        lib_dir = tempfile.mkdtemp(dir=self.dir)
        for no_exchange, failing in ((False, [2]), (True, [4])):  # no exchange: each rename tries it first
            with self.subTest(no_exchange=no_exchange):
                model, mc = self.existing("model.h5")
                labels, lc = self.existing("labels.h5", b"L" * 999)
                env = T.at_first_fsync(lib_dir, rename_fail=failing, no_exchange=no_exchange)
                status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", model, "--labels", labels,
                                          "-f", env=env)
                self.one_error(status, err, 1, "model.h5", "cannot rename into place", "Input/output error")
                self.assertEqual((self.read_bytes(model), self.read_bytes(labels)), (mc, lc))
                self.assert_dir(["labels.h5", "model.h5", os.path.basename(lib_dir)], "a temporary was left behind")
        # The take-back fails too: the old labels are kept, hidden, and the message says where.
        env = T.at_first_fsync(lib_dir, rename_fail=[2, 3])
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", model, "--labels", labels, "-f",
                                  env=env)
        line = self.one_error(status, err, 1, "labels.h5 could not be put back: its old contents are in")
        kept = line.rsplit(" in ", 1)[1]
        self.assertEqual(self.read_bytes(kept), lc)
        self.assertEqual(self.read_bytes(model), mc)

    def test_library_ending_the_run_leaves_nothing(self):
        # libgomp ends the process with exit(1) when it cannot start a thread (here: a cgroup's pids.max of 1;
        # also too many processes for ulimit -u): the temporaries were left behind, with libgomp's line alone.
        # Now they go, and a line of ours follows.
        own = "/sys/fs/cgroup/pids" + next((p for _, ctl, p in (line.rstrip("\n").split(":", 2)
                                                                  for line in open("/proc/self/cgroup"))
                                            if "pids" in ctl.split(",")), "/nowhere")
        if os.geteuid() != 0 or not os.access(own, os.W_OK):
            self.skipTest("no writable pids cgroup (cgroup v1) here")
        group = os.path.join(own, f"ooc-test-{os.getpid()}")
        os.mkdir(group)
        try:
            write_file(os.path.join(group, "pids.max"), "1")
            procs = os.path.join(group, "cgroup.procs")
            model, labels = self.path("model.h5"), self.path("labels.h5")
            status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-t", 2, "-o", model, "--labels", labels,
                                      preexec_fn=lambda: write_file(procs, str(os.getpid())))
        finally:
            os.rmdir(group)
        self.assertEqual(status, 1, err)
        lines = err.splitlines()  # (under AddressSanitizer, LeakSanitizer's own complaint may follow)
        gomp = next(i for i, line in enumerate(lines) if line.startswith("libgomp"))
        self.assertRegex(lines[gomp + 1], r"^kmeans-ooc: error: .*library", err)
        self.assertEqual(T.listdir(self.dir), [])

    def test_outputs_over_non_regular_files(self):
        # A FIFO (and, as root, a device node such as /dev/null) is never replaced by an output, even with
        # --force: refused before any data is read.
        fifo = self.path("fifo.h5")
        os.mkfifo(fifo)
        for args in (["fit", shared("blobs.h5"), "-k", 3, "-o", fifo], ["fit", shared("blobs.h5"), "--labels", fifo],
                     ["predict", shared("model.h5"), shared("blobs.h5"), "--labels", fifo]):
            for force in ([], ["-f"]):
                with self.subTest(args=args[:1] + args[3:] + force):
                    status, out, err = kmeans(*args, *force, "-q", timeout=20)
                    self.one_error(status, err, 1, "fifo.h5", "not a regular file")
                    self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
                    self.assert_dir(["fifo.h5"])

    def test_inputs_that_are_fifos(self):
        # HDF5 would wait for a writer for ever: refused before it opens the file.
        fifo = self.path("fifo.h5")
        os.mkfifo(fifo)
        for args in (["fit", fifo, "-k", 3], ["predict", fifo, shared("blobs.h5"), "--labels", self.path("l.h5")],
                     ["predict", shared("model.h5"), fifo, "--labels", self.path("l.h5")]):
            with self.subTest(args=args):
                status, out, err = kmeans(*args, "-q", timeout=20)
                self.one_error(status, err, 1, "fifo.h5", "not a regular file")
                self.assert_dir(["fifo.h5"])

    def test_empty_output_names(self):
        # Refused as usage before the data is read (the input here would take seconds).
        for args in (["-o", ""], ["--labels", ""], ["--labels", ":/labels"], ["--labels", self.path("l.h5") + ":/"],
                     ["--labels", self.path("l.h5") + ":/g/"]):
            with self.subTest(args=args):
                status, out, err = kmeans("fit", SLOW_INPUT, *args, timeout=20)
                self.one_error(status, err, 2)
                self.assert_dir([])

    def test_output_name_too_long(self):
        # A model name over NAME_MAX: refused before the fit (the input would take seconds), and the labels
        # (before: renamed into place, then the model's rename failed) never appear.
        long_name = self.path("m" * 253 + ".h5")
        for args in (["-o", long_name, "--labels", self.path("l.h5")], ["--labels", long_name, "-o", self.path("m.h5")]):
            with self.subTest(args=args[:1]):
                status, out, err = kmeans("fit", SLOW_INPUT, "-q", *args, timeout=20)
                self.one_error(status, err, 1, "File name too long")
                self.assert_dir([])

    def test_output_name_ending_in_a_colon(self):
        # "l.h5:" names no dataset: refused, not a file called "l.h5:"; a model is a file, named without one
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "--labels", self.path("l.h5") + ":")
        self.one_error(status, err, 2, "--labels", "not FILE.h5[:/dataset]")
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", self.path("m.h5") + ":")
        self.one_error(status, err, 2, "--model", "ends with ':'")
        status, out, err = kmeans("predict", shared("model.h5") + ":", shared("blobs.h5"), "--labels",
                                  self.path("l.h5"))
        self.one_error(status, err, 2, "MODEL.h5", "ends with ':'")
        self.assert_dir([])

    def test_values_with_newlines_stay_on_one_line(self):
        for args in (["--n-clusters", "5\nX"], ["--seed", "1\n2"]):
            with self.subTest(args=args):
                status, out, err = kmeans("fit", shared("blobs.h5"), *args)
                self.one_error(status, err, 2, args[0], "\\x0a")

    def test_labels_dataset_path(self):
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "--labels", self.path("l.h5") + ":/lab")
        self.assertEqual(status, 0, err)
        with T.open_h5(self.path("l.h5")) as f:
            self.assertEqual(list(f.keys()), ["lab"])
            np.testing.assert_array_equal(f["lab"][...], T.open_h5(shared("labels.h5"))["labels"][...])
        status, out, err = kmeans("labels", self.path("l.h5") + ":/lab", "--rows", "0:3")
        self.assertEqual(status, 0, err)
        self.assertEqual(len(out.splitlines()), 3)
        # A path that names a group is bad usage, found before any data is read (":/." failed at the end as
        # "cannot create dataset: input/output error", exit 1).
        for name in (":/", ":/g/", ":/.", ":/g/.."):
            with self.subTest(name=name):
                status, out, err = kmeans("fit", self.path("missing.h5"), "--labels", self.path("m.h5") + name)
                self.one_error(status, err, 2, "names a group")


class Signals(Base):
    def interrupted(self, sig, existing, preexec_fn=None):
        model, labels = self.path("model.h5"), self.path("labels.h5")
        contents = {}
        args = [KMEANS, "fit", SLOW_INPUT, "-t", "1", "-k", 8, "-o", model, "--labels", labels]
        if existing:
            contents = {model: self.existing("model.h5")[1], labels: self.existing("labels.h5", b"L" * 999)[1]}
            args.append("-f")
        before = T.listdir(self.dir)
        p = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)
        try:
            # Under way: the labels' temporary exists beside the destination.
            deadline = time.monotonic() + 30
            while not temporaries(T.listdir(self.dir)):
                self.assertIsNone(p.poll(), "the fit ended before it could be interrupted")
                self.assertLess(time.monotonic(), deadline, "no temporary file appeared")
                time.sleep(0.01)
            time.sleep(0.5)
            self.assertIsNone(p.poll(), "the fit ended before it could be interrupted")
            t0 = time.monotonic()
            p.send_signal(sig)
            out, err = p.communicate(timeout=60)
            reaction = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertLess(reaction, 20, "slow to stop after a signal")
        self.assertEqual(out, "")
        self.assert_dir(before, "an output or temporary file was left behind")
        for dest, content in contents.items():
            self.assertEqual(self.read_bytes(dest), content, f"{dest} was touched")
        return p.returncode, err

    def test_signal_just_before_the_renames(self):
        # The signal comes after the last pass, when the outputs are synced: fit and predict still stop with
        # 128 + N, the existing destinations untouched, nothing left behind.
        lib_dir = tempfile.mkdtemp(dir=self.dir)
        for sig in (signal.SIGINT, signal.SIGTERM):
            env = T.at_first_fsync(lib_dir, signo=sig)
            model, mc = self.existing("model.h5")
            labels, lc = self.existing("labels.h5", b"L" * 999)
            before = T.listdir(self.dir)
            for args in (["fit", shared("blobs.h5"), "-k", 3, "-o", model, "--labels", labels, "-f"],
                         ["predict", shared("model.h5"), shared("blobs.h5"), "--labels", labels, "-f"]):
                with self.subTest(signal=sig, command=args[0]):
                    status, out, err = kmeans(*args, env=env)
                    self.one_error(status, err, 128 + sig, "interrupted")
                    self.assertEqual(out, "")
                    self.assert_dir(before, "an output or temporary file was left behind")
                    self.assertEqual(self.read_bytes(model), mc)
                    self.assertEqual(self.read_bytes(labels), lc)

    def assert_both_new(self, model, labels, lib_dir):
        """A fit of shared blobs.h5 with k = 3 wrote both outputs, and nothing else is left but lib_dir."""
        with T.open_h5(model) as f:
            self.assertEqual(f["cluster_centers"].shape, (3, 4))
        with T.open_h5(labels) as f:
            self.assertEqual(f["labels"].shape, (50000,))
        self.assert_dir(["labels.h5", "model.h5", os.path.basename(lib_dir)], "a temporary was left behind")

    def test_signals_during_the_renames(self):
        # Ctrl-C twice while the outputs are renamed into place (here: at the model's rename, the labels'
        # done): the renames finish and the run ends as they leave it, exit 0 with both outputs new. A second
        # signal used to exit 130 there, the new labels beside the old model.
        lib_dir = tempfile.mkdtemp(dir=self.dir)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig):
                model, _ = self.existing("model.h5")
                labels, _ = self.existing("labels.h5", b"L" * 999)
                env = T.at_first_fsync(lib_dir, rename_signal=(2, sig))
                status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", model, "--labels", labels,
                                          "-f", env=env)
                self.assertEqual((status, err), (0, ""))
                self.assertEqual(len(out.splitlines()), 1)
                self.assert_both_new(model, labels, lib_dir)

    def test_signal_after_the_results(self):
        # One signal after the last pass's check, while the results go out and before the renames: the run
        # still stops, 128 + N, nothing changed (it used to carry on and exit 0 with the outputs replaced).
        lib_dir = tempfile.mkdtemp(dir=self.dir)
        model, mc = self.existing("model.h5")
        labels, lc = self.existing("labels.h5", b"L" * 999)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig):
                env = T.at_first_fsync(lib_dir, fflush_signal=sig)
                status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-o", model, "--labels", labels, "-f",
                                          env=env)
                self.one_error(status, err, 128 + sig, "interrupted")
                self.assertEqual((self.read_bytes(model), self.read_bytes(labels)), (mc, lc))
                self.assert_dir(["labels.h5", "model.h5", os.path.basename(lib_dir)], "a temporary was left behind")

    def test_fatal_signal_during_the_renames(self):
        # SIGUSR1 (any signal whose default ends the process) in the middle of the renames waits for them:
        # the run then dies by it, with both outputs new and no temporary (it died between the renames, the
        # new labels beside the old model, the old labels in a temporary).
        lib_dir = tempfile.mkdtemp(dir=self.dir)
        model, _ = self.existing("model.h5")
        labels, _ = self.existing("labels.h5", b"L" * 999)
        env = T.at_first_fsync(lib_dir, rename_signal=(2, signal.SIGUSR1))
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", model, "--labels", labels, "-f",
                                  env=env)
        self.assertEqual((status, err), (-signal.SIGUSR1, ""))
        self.assert_both_new(model, labels, lib_dir)

    def test_signal_while_results_wait_for_a_reader(self):
        # The JSON (k = 2000 centres: more than a pipe holds) waits for a reader that does not read; SIGINT
        # stops it there: 130, nothing in place (stdio retried the cut write: blocked until the reader read,
        # then "write error", exit 1).
        model = self.path("model.h5")

        def blocked(p):
            with open("/proc/%d/wchan" % p.pid) as f:
                return f.read().endswith("pipe_write")

        status, err = self.signalled([KMEANS, "fit", shared("blobs.h5"), "-k", "2000", "--init", "random",
                                      "--max-iter", "1", "-t", "1", "--json", "-o", model], signal.SIGINT, blocked)
        self.one_error(status, err, 130, "interrupted")
        self.assertFalse(os.path.exists(model))

    def signalled(self, argv, sig, ready, env=None):
        """(exit status, stderr) of argv sent sig once ready(process) holds (polled for up to 60 s)."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            deadline = time.monotonic() + 60
            while not ready(p):
                self.assertIsNone(p.poll(), "the run ended before it was ready for the signal")
                self.assertLess(time.monotonic(), deadline, "the run never got ready for the signal")
                time.sleep(0.02)
            p.send_signal(sig)
            status = p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return status, p.stderr.read().decode()

    def test_signal_while_hdf5_is_stuck(self):
        # HDF5 never returns from a read (as on a damaged virtual dataset): the run cannot see the signal's
        # cancel there, so one SIGTERM (timeout's) stops it at once, 143, temporaries gone (it ran on until a
        # second signal, for ever under `timeout`).
        gz = self.write_h5("gzip.h5", X={"data": np.ones((1000, 3)), "chunks": (100, 3), "compression": "gzip"})
        env = T.at_first_fsync(tempfile.mkdtemp(dir=self.dir), hdf5_stuck=True)
        model = self.path("model.h5")
        before = T.listdir(self.dir)
        t0 = time.monotonic()
        status, err = self.signalled([KMEANS, "fit", gz, "-k", "2", "-o", model], signal.SIGTERM,
                                     lambda p: time.monotonic() - t0 >= 1, env=env)  # stuck by then
        self.one_error(status, err, 143, "interrupted")
        self.assert_dir(before)

    def test_signal_while_hdf5_is_stuck_ends_the_progress_line(self):
        # The progress bar is drawn (the first chunk read), then HDF5 never returns from the second: the
        # handler's own line starts on a line of its own, not at the end of the bar's.
        # 10 processing chunks of 2 storage chunks (20000 rows of 100 columns: 16 MB as float64)
        gz = self.write_h5("gzip.h5", X={"data": np.ones((200000, 100), np.uint8), "chunks": (10000, 100),
                                         "compression": "gzip"})
        env = T.at_first_fsync(tempfile.mkdtemp(dir=self.dir), hdf5_stuck=3)
        t0 = time.monotonic()
        status, err = self.signalled([KMEANS, "fit", gz, "-k", "2", "-t", "1", "-v"], signal.SIGTERM,
                                     lambda p: time.monotonic() - t0 >= 1, env=env)  # stuck by then
        lines = err.split("\n")  # the bar redraws itself after a \r
        self.assertEqual(status, 143, err)
        self.assertIn("1/10 chunks", lines[0], "the bar was not drawn before HDF5 stuck")
        self.assertEqual(lines[1:], ["kmeans-ooc: error: interrupted: signal 15 (SIGTERM)", ""])

    def test_broken_pipe_leaves_nothing(self):
        # stdout's reader gone (`| head`): the results print before the renames, SIGPIPE ends the run as it
        # ends any tool, and the outputs' temporaries go with it; existing destinations stay as they were.
        model, mc = self.existing("model.h5")
        labels, lc = self.existing("labels.h5", b"L" * 999)
        before = T.listdir(self.dir)
        for args in (["fit", shared("blobs.h5"), "-k", 3, "-o", model, "--labels", labels, "-f"],
                     ["fit", shared("blobs.h5"), "-k", 3, "-o", model, "--labels", labels, "-f", "--json"],
                     ["predict", shared("model.h5"), shared("blobs.h5"), "--labels", labels, "-f"]):
            with self.subTest(args=args):
                p = subprocess.Popen([KMEANS, *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                p.stdout.close()  # no reader
                err = p.stderr.read().decode()
                self.assertEqual((p.wait(timeout=60), err), (-signal.SIGPIPE, ""))
                self.assert_dir(before, "a temporary or an output was left behind")
                self.assertEqual((self.read_bytes(model), self.read_bytes(labels)), (mc, lc))

    def test_sigint(self):
        status, err = self.interrupted(signal.SIGINT, existing=False)
        self.one_error(status, err, 130)

    def test_sigterm(self):
        status, err = self.interrupted(signal.SIGTERM, existing=False)
        self.one_error(status, err, 143)

    def test_sigint_keeps_existing_outputs(self):
        status, err = self.interrupted(signal.SIGINT, existing=True)
        self.one_error(status, err, 130)

    def test_sigterm_keeps_existing_outputs(self):
        status, err = self.interrupted(signal.SIGTERM, existing=True)
        self.one_error(status, err, 143)

    def test_signals_ignored_by_the_caller_stay_ignored(self):
        # nohup (SIGHUP ignored) and a shell's trap '' INT are the caller's choice: the tools took the signals
        # back and stopped (exit 129, 130). And with SIGPIPE ignored, a reader gone is a write error (exit 1),
        # as for cat, not a death by SIGPIPE.
        def ignore(*signals):
            return lambda: [signal.signal(sig, signal.SIG_IGN) for sig in signals]

        model, labels = self.path("model.h5"), self.path("labels.h5")
        p = subprocess.Popen([KMEANS, "fit", SLOW_INPUT, "-t", "1", "-k", "8", "-q", "-o", model, "--labels", labels],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=ignore(signal.SIGHUP, signal.SIGINT))
        deadline = time.monotonic() + 30
        while not temporaries(T.listdir(self.dir)) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        for sig in (signal.SIGHUP, signal.SIGINT):
            p.send_signal(sig)
        out, err = p.communicate(timeout=60)
        self.assertEqual((p.returncode, err), (0, ""))
        self.assert_both_new_fit(model, labels)
        p = subprocess.Popen([KMEANS, "labels", shared("labels.h5")], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ignore(signal.SIGPIPE))
        p.stdout.close()  # no reader
        err = p.stderr.read().decode()
        self.one_error(p.wait(timeout=60), err, 1, "standard output")

    def assert_both_new_fit(self, model, labels):
        with T.open_h5(model) as f:
            self.assertEqual(f["cluster_centers"].shape, (8, 20))
        with T.open_h5(labels) as f:
            self.assertEqual(f["labels"].shape, (3_000_000,))
        self.assertEqual(temporaries(T.listdir(self.dir)), [])

    def test_other_fatal_signals_leave_no_temporaries(self):
        # Ctrl-\ and stray signals end the run as their default action does (SIGQUIT dumps core: none
        # here), silently, but the temporaries go first (they were left behind).
        no_core = lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        for sig in (signal.SIGQUIT, signal.SIGUSR1, signal.SIGALRM):
            with self.subTest(signal=sig):
                status, err = self.interrupted(sig, existing=True, preexec_fn=no_core)
                self.assertEqual((status, err), (-sig, ""))


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def memory_cgroup():
    """(v2, the directory of this process's memory cgroup) when it can take a child cgroup, else None."""
    if os.geteuid() != 0:
        return None
    with open("/proc/self/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for v2, mount in ((True, "/sys/fs/cgroup"), (False, "/sys/fs/cgroup/memory")):
        path = next((p for _, ctl, p in lines if (ctl == "" if v2 else "memory" in ctl.split(","))), None)
        marker = "cgroup.controllers" if v2 else "memory.limit_in_bytes"
        own = mount + (path if path and path != "/" else "")
        if path and os.path.exists(os.path.join(mount, marker)) and os.access(own, os.W_OK):
            if not v2 or "memory" in open(os.path.join(own, "cgroup.controllers")).read().split():
                return v2, own
    return None


class MemoryLimit(Base):
    """--memory-limit bounds a fit's whole process, whatever the rows: through its passes of whole chunks
    (the first) and in pieces (the others, whose room the cache takes meanwhile), the labels written."""

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_peak_under_limit_and_flat_in_rows(self):
        limit = 128 * 2**20
        peaks = []
        for rows in ("600k", "2400k"):  # 8 MB chunks: 96 and 384 MB of data
            path = self.path(f"rows_{rows}.h5")
            status, _, err = T.chunkgen("-q", "-n", rows, "-d", 20, "-c", 5, "--chunk-rows", 50000, path)
            self.assertEqual(status, 0, err)
            status, out, err = kmeans("fit", path, "-k", 5, "-q", "--json", "-t", 2, "--memory-limit", "128M",
                                      "--labels", self.path(f"labels_{rows}.h5"))
            self.assertEqual((status, err), (0, ""), rows)
            peak = json.loads(out)["peak_rss_bytes"]
            self.assertLessEqual(peak, limit, f"{rows} rows: peak RSS {peak / 2**20:.1f} MiB")
            peaks.append(peak)
        self.assertLessEqual(abs(peaks[1] - peaks[0]), 0.1 * max(peaks), peaks)

    def default_limit(self, preexec, inp="blobs:samples=1000,features=20"):
        """--memory-limit's default, as a fit's --json reports it, in a process prepared by preexec; the peak
        RSS of a fit of inp under it is no more."""
        status, out, err = T.run([KMEANS, "fit", inp, "-k", 2, "-q", "--json"], preexec_fn=preexec)
        self.assertEqual((status, err), (0, ""))
        js = json.loads(out)
        self.assertLessEqual(js["peak_rss_bytes"], js["parameters"]["memory_limit"])
        return js["parameters"]["memory_limit"]

    @unittest.skipIf(T.SANITIZED, "AddressSanitizer reserves terabytes of address space")
    def test_default_follows_ulimit(self):
        # "Half of the memory available to the process": under ulimit -v or -d the default was half the
        # machine's memory, and fits failed for memory a smaller explicit limit did without. (And --json
        # reported the default taken again at the end, smaller than the peak of the limit the run had.)
        inp = self.path("data.h5")
        status, _, err = T.chunkgen("-q", "-n", "1M", "-d", 20, "-c", 8, "--chunk-rows", 50000, inp)
        self.assertEqual(status, 0, err)
        for resource_name in ("RLIMIT_AS", "RLIMIT_DATA"):
            with self.subTest(limit=resource_name):
                cap = 700 * 2**20
                which = getattr(resource, resource_name)
                got = self.default_limit(lambda: resource.setrlimit(which, (cap, resource.RLIM_INFINITY)), inp)
                self.assertGreater(got, 0)
                self.assertLess(got, cap // 2)

    @unittest.skipIf(T.SANITIZED, "AddressSanitizer reserves terabytes of address space")
    def test_address_space_too_small_for_openblas(self):
        # OpenBLAS 0.3.21 maps 128 MiB for each of its threads as it loads and, when ulimit -v or -d leaves no
        # room for them, retries forever: kmeans-ooc hung before main(), even for --help. Now it says so first.
        # (150 MiB holds the libraries, about 70 MiB, but not one buffer beside them.)
        for resource_name in ("RLIMIT_AS", "RLIMIT_DATA"):
            with self.subTest(limit=resource_name):
                which = getattr(resource, resource_name)
                status, out, err = T.run([KMEANS, "fit", "blobs:samples=1000,features=20", "-k", 2, "-q"], timeout=30,
                                         preexec_fn=lambda: resource.setrlimit(which, (150 * 2**20, resource.RLIM_INFINITY)))
                T.assert_one_error(self, "kmeans-ooc", status, err, 1, "OpenBLAS", "raise the limit")
                self.assertEqual(out, "")

    @unittest.skipIf(T.SANITIZED, "AddressSanitizer reserves terabytes of address space")
    def test_address_space_limit_keeps_openblas_out(self):
        # With one buffer mapped at load (OMP_NUM_THREADS=1), OpenBLAS took another 128 MiB for each thread
        # calling it, and under ulimit -v 300M a predict of k = 300 centres spun in its retries until killed.
        # Under such a limit the direct kernels serve every shape: the same labels, no hang.
        model, base = self.path("model.h5"), "blobs:samples=5k,features=64,chunk_rows=1000"
        status, _, err = kmeans("fit", base, "-k", 300, "--max-iter", 2, "-q", "--model", model)
        self.assertEqual(status, 0, err)
        f32 = "blobs:samples=20k,features=32,chunk_rows=2000,dtype=float32"
        runs = {"predict": ["predict", model, base + ",seed=1", "--labels"],
                "fit": ["fit", f32, "-k", 100, "--max-iter", 3, "--tol", 0, "--json", "-q", "--labels"]}
        env = dict(os.environ, OMP_NUM_THREADS="1")
        limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (300 * 2**20, resource.RLIM_INFINITY))
        for name, args in runs.items():
            with self.subTest(run=name):
                free, capped = self.path(f"{name}_free.h5"), self.path(f"{name}_capped.h5")
                status, out_free, err = T.run([KMEANS, *args, free, "-t", 2], env=env)
                self.assertEqual(status, 0, err)
                status, out, err = T.run([KMEANS, *args, capped, "-t", 2], env=env, timeout=60, preexec_fn=limit)
                self.assertEqual(status, 0, err)
                with h5py.File(free, "r") as a, h5py.File(capped, "r") as b:
                    np.testing.assert_array_equal(a["labels"][...], b["labels"][...])
                if name == "fit":
                    self.assertEqual(json.loads(out)["inertia"], json.loads(out_free)["inertia"])

    def test_default_follows_own_cgroup(self):
        # A cgroup of the process's own (as Slurm and systemd make), or above it, limits it: the default read
        # only the root's limit, and a fit in a 300 MB cgroup was killed for memory with its temporaries left.
        parent = memory_cgroup()
        if parent is None:
            self.skipTest("no writable memory cgroup here (needs root and cgroup v1 or v2's memory controller)")
        v2, own = parent
        limited = os.path.join(own, f"ooc-test-{os.getpid()}")
        inner = os.path.join(limited, "inner")
        os.makedirs(inner)
        try:
            try:
                for d in ((own, limited) if v2 else ()):
                    write_file(os.path.join(d, "cgroup.subtree_control"), "+memory")
            except OSError as e:  # cgroup v2 lets no cgroup holding processes share out its memory controller
                self.skipTest(f"cannot enable the memory controller below {own}: {e}")
            write_file(os.path.join(limited, "memory.max" if v2 else "memory.limit_in_bytes"), str(512 * 2**20))
            procs = os.path.join(inner, "cgroup.procs")
            got = self.default_limit(lambda: write_file(procs, str(os.getpid())))
            self.assertGreater(got, 0)
            self.assertLessEqual(got, 256 * 2**20)
        finally:
            for d in (inner, limited):
                os.rmdir(d)

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_many_tiny_storage_chunks(self):
        # Chunks HDF5 decodes (gzip) of one row each: a processing chunk spans hundreds of thousands of them,
        # and HDF5 keeps a few KiB for each storage chunk a read touches (before, this fit peaked at 1.3 GB
        # under a limit of 128M). The labels are those of the same data in big chunks.
        X = np.random.default_rng(5).normal(size=(200_000, 4))
        tiny = self.write_h5("tiny.h5", X={"data": X, "chunks": (1, 4), "compression": "gzip"})
        big = self.write_h5("big.h5", X={"data": X, "chunks": (50_000, 4), "compression": "gzip"})
        labels = []
        for inp in (tiny, big):
            out_labels = self.path(f"labels_{os.path.basename(inp)}")
            status, out, err = kmeans("fit", inp, "-k", 3, "-q", "--json", "--max-iter", 5, "--memory-limit", "128M",
                                      "--labels", out_labels)
            self.assertEqual((status, err), (0, ""))
            peak = json.loads(out)["peak_rss_bytes"]
            self.assertLessEqual(peak, 128 * 2**20, f"{inp}: peak RSS {peak / 2**20:.1f} MiB")
            with T.open_h5(out_labels) as f:
                labels.append(f["labels"][...])
        np.testing.assert_array_equal(labels[0], labels[1])

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_predict_holds_no_cache(self):
        # predict is one pass: under the default limit it cached every chunk it read, for nothing (a 10M x 20
        # float32 file: 861 MB, now 80). 2M x 20 float64 rows are 320 MB; a few chunks' worth are held.
        model = self.path("model.h5")
        status, _, err = kmeans("fit", "blobs:samples=10000,features=20", "-k", 4, "-q", "-o", model)
        self.assertEqual((status, err), (0, ""))
        status, out, err = kmeans("predict", model, "blobs:samples=2M,features=20", "--labels", self.path("l.h5"),
                                  "-q", "--json", "-t", 2)
        self.assertEqual((status, err), (0, ""))
        peak = json.loads(out)["peak_rss_bytes"]
        self.assertLess(peak, 120 * 2**20, f"peak RSS {peak / 2**20:.1f} MiB")

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_one_row_chunks_under_limit(self):
        # Processing chunks of one row: the cache had an entry for every chunk (8 bytes each) and counted a
        # cached chunk's 16 bytes where malloc takes 32 (1M rows: 70.5 MiB under 64M; 16M rows: 455 MiB
        # under 256M).
        status, out, err = kmeans("fit", "blobs:samples=1M,features=2,chunk_rows=1", "-k", 2, "-q", "--json",
                                  "-t", 2, "--max-iter", 2, "--memory-limit", "64M")
        self.assertEqual((status, err), (0, ""))
        peak = json.loads(out)["peak_rss_bytes"]
        self.assertLessEqual(peak, 64 * 2**20, f"peak RSS {peak / 2**20:.1f} MiB")

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_gzip_chunks_under_limit(self):
        # HDF5 decodes gzip chunks in buffers of its own, a few MB each: once glibc's malloc had raised its
        # mmap threshold, freed ones stayed resident, and the fit ran 6 MiB over a 200M limit.
        rng = np.random.default_rng(2)
        X = rng.uniform(-10, 10, (9, 7))[rng.integers(0, 9, 1_500_001)] + rng.normal(size=(1_500_001, 7))
        inp = self.write_h5("gz.h5", X={"data": X, "chunks": (50_000, 7), "compression": "gzip",
                                        "compression_opts": 1})
        for limit in (160, 200):
            status, out, err = kmeans("fit", inp, "-k", 8, "-q", "--json", "--memory-limit", f"{limit}M")
            self.assertEqual((status, err), (0, ""))
            peak = json.loads(out)["peak_rss_bytes"]
            self.assertLessEqual(peak, limit * 2**20, f"peak RSS {peak / 2**20:.1f} MiB, limit {limit} MiB")

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_integers_read_through_hdf5(self):
        # Integers HDF5 converts: the rows k-means|| draws were read into a decoded chunk per thread, kept for
        # the rest of the fit beside the prefetcher's buffers (2M x 20 int32, two threads: 271 MiB under 256M; this one 169 MiB under 160M).
        X = (np.random.default_rng(0).standard_normal((1_200_000, 20)) * 100).astype("<i4")
        inp = self.write_h5("int32.h5", X={"data": X, "chunks": (10_000, 20)})
        status, out, err = kmeans("fit", inp, "-k", 8, "-q", "--json", "-t", 2, "--max-iter", 3, "--tol", 0,
                                  "--memory-limit", "160M")
        self.assertEqual((status, err), (0, ""))
        peak = json.loads(out)["peak_rss_bytes"]
        self.assertLessEqual(peak, 160 * 2**20, f"peak RSS {peak / 2**20:.1f} MiB, limit 160 MiB")

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_chunk_index_counted(self):
        # 100k storage chunks of 10 rows: HDF5's metadata cache holds their index (~96 bytes a chunk), which
        # the limit now counts (before: 136 MiB under 128M).
        X = np.random.default_rng(1).normal(size=(1_000_000, 8))
        inp = self.write_h5("tens.h5", X={"data": X, "chunks": (10, 8), "compression": 32015,
                                          "compression_opts": (3,), "shuffle": True})
        status, out, err = kmeans("fit", inp, "-k", 5, "-q", "--json", "--max-iter", 1, "--memory-limit", "128M")
        self.assertEqual((status, err), (0, ""))
        peak = json.loads(out)["peak_rss_bytes"]
        self.assertLessEqual(peak, 128 * 2**20, f"peak RSS {peak / 2**20:.1f} MiB, limit 128 MiB")

    def at_what_it_needs(self, *args, named=()):
        """Run args at the --memory-limit they refuse 1M with, from the one-line refusal ("needs N MiB", and
        `named`), which writes nothing: the peak stays under it."""
        before = T.listdir(self.dir)
        status, out, err = kmeans(*args, "--memory-limit", "1M", "-q")
        self.one_error(status, err, 1, "--memory-limit", "needs", *named)
        self.assertEqual(out, "")
        self.assert_dir(before)
        if T.SANITIZED:
            return  # peak RSS under AddressSanitizer is its shadow memory and quarantine
        limit = int(err.split("needs ")[1].split(" MiB")[0])
        status, out, err = kmeans(*args, "--memory-limit", f"{limit}M", "--json", "-q", "-f")
        self.assertEqual(status, 0, err)
        peak = json.loads(out)["peak_rss_bytes"]
        self.assertLessEqual(peak, limit * 2**20, f"peak RSS {peak / 2**20:.1f} MiB, limit {limit} MiB")

    def test_many_centres(self):
        # The model, its copies and each chunk's sums grow with k x d, not with the rows, and count in the limit
        # too (before, this fit took 252 MiB under a limit of 128M, and its refusal of 1M named no centres).
        many = "blobs:samples=10k,features=500,centers=8,chunk_rows=1000"
        model = self.path("m.h5")
        with h5py.File(model, "w") as f:
            f["cluster_centers"] = np.random.default_rng(0).normal(size=(5000, 500))
        for args in (("fit", many, "-k", 5000, "--init", "random", "--max-iter", 1, "--labels", self.path("l.h5")),
                     ("predict", model, many, "--labels", self.path("p.h5"))):
            with self.subTest(command=args[0]):
                self.at_what_it_needs(*args, "-t", 1, named=["k = 5000 centres of 500 features"])

    def test_chunks_hdf5_decodes(self):
        # gzip (h5py's usual filter) is HDF5's to decode, in buffers of its own (before: 192 MiB under 175)
        p = self.path("gzip.h5")
        with h5py.File(p, "w") as f:
            f.create_dataset("X", data=np.random.default_rng(1).normal(size=(400000, 20)), chunks=(100000, 20),
                             compression="gzip", compression_opts=1)
        self.at_what_it_needs("fit", p, "-k", 8, "--max-iter", 3, "-t", 2)

    def test_labels_of_long_chunks(self):
        # One feature: a chunk's labels take as much room as its rows, for each thread and its pending chunks
        self.at_what_it_needs("fit", "blobs:samples=32M,features=1,dtype=float32,chunk_rows=8M", "-k", 4, "--init",
                              "random", "--max-iter", 2, "-t", 2, "--labels", self.path("l.h5"))


class LabelsCommand(Base):
    @classmethod
    def setUpClass(cls):
        with T.open_h5(shared("labels.h5")) as f:
            cls.labels = f["labels"][...]
            cls.chunk_rows = f["labels"].chunks[0]

    def printed(self, *args):
        status, out, err = kmeans("labels", shared("labels.h5"), *args)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        return [int(v) for v in out.split()] if out else [], out

    def test_rows(self):
        n = len(self.labels)
        self.assertEqual(n, 50000)
        self.assertEqual(self.chunk_rows, 10000)
        for spec, expect in (("3:17", self.labels[3:17]), (":5", self.labels[:5]), ("49990:", self.labels[49990:]),
                             ("9995:10005", self.labels[9995:10005]), ("0:0", []), ("7:3", []),
                             ("49998:60000", self.labels[49998:]), ("60000:70000", []), ("60000:", []),
                             (":", self.labels),
                             # bounds are counts, in the forms every count takes (SPEC: 1e8, k, M, G)
                             ("1e1:2e1", self.labels[10:20]), ("9.995k:10.005k", self.labels[9995:10005]),
                             ("-1e1:", self.labels[-10:]), (":-0.04999M", self.labels[:-49990]), ("1G:", []),
                             ("-1e30:5", self.labels[:5]), ("0" * 70 + "5:10", self.labels[5:10])):
            with self.subTest(rows=spec):
                values, out = self.printed("--rows", spec)
                self.assertEqual(values, list(expect))
                self.assertEqual(out.count("\n"), len(expect), "one label a line")

    def test_negative_rows(self):
        """Bounds count from the end when negative, as Python slices do."""
        # Bounds past int64 clamp as Python's do (-2^63 as a bound once negated itself).
        for spec in ("-3:", ":-49990", "-10:-5", "-60000:3", "-2:-7", "5:-49990", "-1:", "0:18446744073709551615",
                     "-99999999999999999999999999999:3", "99999999999999999999999999999999999999999:",
                     "-9223372036854775808:", "3:-9223372036854775808"):
            with self.subTest(rows=spec):
                a, b = (int(x) if x else None for x in spec.split(":"))
                values, _ = self.printed("--rows", spec)
                self.assertEqual(values, self.labels[a:b].tolist())

    def test_options_of_other_commands_refused(self):
        for args, needle in ((["-k", 5], "--n-clusters"), (["-t", 2], "--threads"), (["--json"], "--json"),
                             (["--seed", 3], "--seed")):
            with self.subTest(args=args):
                status, out, err = kmeans("labels", shared("labels.h5"), "--rows", "0:3", *args)
                self.one_error(status, err, 2, needle)
                self.assertEqual(out, "")

    def test_all(self):
        values, out = self.printed()
        self.assertEqual(values, self.labels.tolist())

    def test_chunks(self):
        for i in range(5):
            with self.subTest(chunk=i):
                values, _ = self.printed("--chunk", i)
                self.assertEqual(values, self.labels[i * 10000:(i + 1) * 10000].tolist())
        for spec, i in (("1e0", 1), ("0.004k", 4), ("003", 3)):  # an index is a count: every form counts take
            with self.subTest(chunk=spec):
                values, _ = self.printed("--chunk", spec)
                self.assertEqual(values, self.labels[i * 10000:(i + 1) * 10000].tolist())
        for i in (5, 1000, 2**63, 2**64 - 1):  # the last two overflow chunk x rows
            status, out, err = kmeans("labels", shared("labels.h5"), "--chunk", i)
            self.one_error(status, err, 1, "labels.h5", f"chunk {i}")
            self.assertEqual(out, "")

    def test_empty_labels(self):
        # Another program's empty labels, contiguous (no chunks at all) and chunked: all of nothing prints
        # nothing; any chunk is out of range.
        inp = self.write_h5("empty.h5", contiguous=np.zeros(0, dtype=np.int32),
                            chunked={"shape": (0,), "dtype": np.int32, "chunks": (100,), "maxshape": (None,)})
        for ds in ("/contiguous", "/chunked"):
            with self.subTest(dataset=ds):
                status, out, err = kmeans("labels", inp + ":" + ds)
                self.assertEqual((status, out, err), (0, "", ""))
                status, out, err = kmeans("labels", inp + ":" + ds, "--chunk", 0)
                self.one_error(status, err, 1, "empty.h5", "chunk 0", "0 chunks")

    def test_partial_last_chunk(self):
        status, out, err = T.chunkgen("-q", "-n", 2500, "-d", 2, "-c", 2, "--chunk-rows", 1000, self.path("p.h5"))
        self.assertEqual(status, 0, err)
        status, out, err = kmeans("fit", self.path("p.h5"), "-k", 2, "-q", "--labels", self.path("l.h5"))
        self.assertEqual(status, 0, err)
        with T.open_h5(self.path("l.h5")) as f:
            labels = f["labels"][...]
        status, out, err = kmeans("labels", self.path("l.h5"), "--chunk", 2)
        self.assertEqual(status, 0, err)
        self.assertEqual([int(v) for v in out.split()], labels[2000:].tolist())
        status, out, err = kmeans("labels", self.path("l.h5"), "--chunk", 3)
        self.one_error(status, err, 1, "chunk 3")

    def test_reads_only_the_chunks_it_needs(self):
        p = self.path("l.h5")
        with open(shared("labels.h5"), "rb") as src, open(p, "wb") as dst:
            dst.write(src.read())
        flip_chunk_bytes(p, "labels", 3)
        for args, expect in ((["--chunk", 0], self.labels[:10000]), (["--chunk", 4], self.labels[40000:]),
                             (["--rows", "29990:30000"], self.labels[29990:30000]),
                             (["--rows", "40000:40005"], self.labels[40000:40005])):
            with self.subTest(args=args):
                status, out, err = kmeans("labels", p, *args)
                self.assertEqual(status, 0, err)
                self.assertEqual([int(v) for v in out.split()], expect.tolist())
        for args, needle in ((["--chunk", 3], "chunk 3"), (["--rows", "29990:30010"], "l.h5"), ([], "l.h5")):
            with self.subTest(args=args):
                status, out, err = kmeans("labels", p, *args)
                self.one_error(status, err, 1, needle)

    def test_signals_stop_printing(self):
        # Printing a million labels into a pipe nobody reads blocks at once: SIGINT and SIGTERM stop it, with
        # the signal's status and one line (before, it ignored them and printed on to the end, exit 0).
        inp = self.write_h5("million.h5", labels={"data": (np.arange(1_000_000) % 7).astype(np.int32),
                                                  "chunks": (100_000,)})
        for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            with self.subTest(signal=sig):
                p = subprocess.Popen(T.command([KMEANS, "labels", inp]), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                first = p.stdout.readline()  # printing has begun: the handlers are in place
                time.sleep(0.2)
                p.send_signal(sig)
                out, err = p.communicate(timeout=30)
                out = first + out
                self.one_error(p.returncode, err, status, "interrupted")
                self.assertLess(len(out.splitlines()), 1_000_000)

    def test_not_labels(self):
        inp = self.write_h5("other.h5", f=np.zeros(10), m=np.zeros((10, 2), dtype=np.int32))
        for spec, needle in ((shared("blobs.h5") + ":/X", "/X"), (inp + ":/f", "/f"), (inp + ":/m", "/m"),
                             (inp, "labels"), (self.path("missing.h5"), "missing.h5")):
            with self.subTest(spec=spec):
                status, out, err = kmeans("labels", spec, "--rows", ":3")
                self.one_error(status, err, 1, needle)
                self.assertEqual(out, "")

    def test_any_int_labels_dataset(self):
        # chunkgen's /y is a 1-D int32 dataset too.
        with T.open_h5(shared("blobs.h5")) as f:
            y = f["y"][...]
        status, out, err = kmeans("labels", shared("blobs.h5") + ":/y", "--rows", "10:20")
        self.assertEqual(status, 0, err)
        self.assertEqual([int(v) for v in out.split()], y[10:20].tolist())
        # Other integer types print as they are while in int32's range; a value outside it is refused (HDF5's
        # conversion to int32 would clamp it), naming the row.
        inp = self.write_h5("wide.h5", i64=np.array([2**31 - 1, -2**31, 4], dtype=np.int64),
                            u8=np.array([0, 255, 7], dtype=np.uint8),
                            big=np.array([7, 2**40, -5], dtype=np.int64), low=np.array([-2**40], dtype=np.int64),
                            u64=np.array([1, 2, 2**63 + 5], dtype=np.uint64),
                            u32=np.array([3, 3_000_000_000], dtype=np.uint32))
        for ds, values in (("/i64", [2**31 - 1, -2**31, 4]), ("/u8", [0, 255, 7])):
            with self.subTest(dataset=ds):
                status, out, err = kmeans("labels", inp + ":" + ds)
                self.assertEqual((status, err), (0, ""))
                self.assertEqual([int(v) for v in out.split()], values)
        for ds, row in (("/big", 1), ("/low", 0), ("/u64", 2), ("/u32", 1)):
            with self.subTest(dataset=ds):
                status, out, err = kmeans("labels", inp + ":" + ds)
                self.one_error(status, err, 1, "wide.h5:" + ds, f"row {row}", "int32")


class Interface(Base):
    def test_help(self):
        for flag in ("--help", "-h"):
            for argv in ([flag], ["fit", flag]):
                with self.subTest(argv=argv):
                    status, out, err = kmeans(*argv)
                    self.assertEqual(status, 0, err)
                    self.assertEqual(err, "")
                    self.assertIn("Usage: kmeans-ooc fit", out)
                    for command in ("predict", "labels"):
                        self.assertIn(f"kmeans-ooc {command}", out)
                    text = re.sub(r"\s+", " ", out)
                    for opt, default in (("--n-clusters K", "8"), ("--init", "k-means||"),
                                         ("--oversampling-factor", "2"), ("--init-max-iter", "5"),
                                         ("--max-iter", "300"), ("--tol", "0.0001"), ("--seed", "0"),
                                         ("--threads", "all cores")):
                        self.assertRegex(text, re.escape(opt) + r"[^\[]*\[default: " + re.escape(default) + r"\]",
                                         f"{opt} shows [default: {default}]")
                    for opt in ("--memory-limit", "--model", "--labels", "--json", "--force", "--quiet",
                                "--verbose", "--version", "--rows", "--chunk"):
                        self.assertIn(opt, out)
                    # dask-ml's oversampling_factor is l itself, not a multiple of k: --help says so.
                    self.assertRegex(text, r"dask-ml's oversampling_factor is (l|ℓ) itself")

    def test_version(self):
        for flag in ("--version", "-V"):
            status, out, err = kmeans(flag)
            self.assertEqual(status, 0, err)
            self.assertEqual(err, "")
            self.assertRegex(out, r"^kmeans-ooc .*\d+\.\d+")
            self.assertEqual(len(out.splitlines()), 1)

    def test_default_output(self):
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "", "progress on stderr although it is not a terminal")
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        self.assertRegex(lines[0], r"50000 x 4")
        self.assertIn("k=3", lines[0])

    def test_quiet(self):
        # SPEC: -q is "progress off". The results still go to stdout: -q -v gives the iteration lines alone, -v
        # the progress bar as well, and both the same result line as a plain run.
        plain = kmeans("fit", shared("blobs.h5"), "-k", 3)
        for flags in (["-q"], ["-q", "-v"], ["-v"]):
            with self.subTest(flags=flags):
                status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, *flags)
                self.assertEqual(status, 0, err)
                self.assertEqual(out.split(", 0.")[0], plain[1].split(", 0.")[0])  # all but the times
                self.assertRegex(out, r"^kmeans: 50000 x 4, k=3, inertia [\d.]+, \d+ iterations")
                bar, lines = "lloyd [" in err, [ln for ln in err.split("\n") if ln.startswith("iter ")]
                self.assertEqual((bar, bool(lines)), ("-q" not in flags, "-v" in flags), err)

    def test_fewer_distinct_rows_than_clusters(self):
        # As scikit-learn's ConvergenceWarning: a fit that cannot fill every cluster says so in one line and
        # succeeds; the model's sizes count the rows of each distinct point (numpy's unique), and it converges
        # (empty clusters moved onto rows at other centres traded rows for ever: 300 iterations).
        rng = np.random.default_rng(3)
        points = rng.uniform(-50, 50, size=(5, 3))
        X = points[rng.integers(0, 5, size=2000)]
        p = self.write_h5("dup.h5", X=X)
        _, counts = np.unique(X, axis=0, return_counts=True)
        for init in ("k-means||", "k-means++", "random"):
            with self.subTest(init=init):
                status, out, err = kmeans("fit", p, "-k", 8, "--init", init, "--json", "--max-iter", 20)
                self.assertEqual(status, 0, err)
                self.assertEqual(T.error_lines(err), ["kmeans-ooc: warning: 5 distinct clusters found, fewer than "
                                                      "k = 8 (duplicate rows?); the other 3 are empty"])
                js = json.loads(out)
                self.assertEqual(sorted(s for s in js["cluster_sizes"] if s), sorted(counts.tolist()))
                self.assertTrue(js["converged"], js["history"][-3:])
                # The last iteration's pass left the 3 clusters empty that stay so: none could be relocated.
                last = js["history"][-1]
                self.assertEqual((last["empty_clusters"], last["relocated"]), (3, 0), js["history"])
                # -v's note on the initialisation names the one that ran out of distinct rows (k-means|| draws
                # more candidates than k: rows, not values).
                status, _, err = kmeans("fit", p, "-k", 8, "--init", init, "-v", "--max-iter", 1)
                notes = [ln for ln in err.splitlines() if "candidates for" in ln]
                self.assertEqual(len(notes), init == "k-means++", err)
                for note in notes:
                    self.assertTrue(note.startswith("note: %s: 5 candidates for 8 clusters; adding 3 " % init), notes)
        status, out, err = kmeans("fit", p, "-k", 8, "-q")  # -q silences progress, not warnings
        self.assertEqual((status, len(out.splitlines()), len(T.error_lines(err))), (0, 1, 1), err)
        status, out, err = kmeans("fit", p, "-k", 5)
        self.assertEqual((status, T.error_lines(err)), (0, []))
        # Distinct rows whose squared distances all underflow to 0 look the same: the warning says so.
        tiny = self.write_h5("tiny.h5", X=rng.uniform(-1e-300, 1e-300, size=(2000, 3)))
        status, out, err = kmeans("fit", tiny, "-k", 8, "--json")
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(out)["inertia"], 0)
        [line] = T.error_lines(err)
        self.assertIn("squared distances underflow", line)

    def test_verbose_prints_a_line_per_iteration(self):
        # Separated blobs in 20 chunks: from k-means|| the second iteration leaves every chunk unread, and says so
        apart = self.path("apart.h5")
        status, _, err = T.chunkgen("-q", "-n", 40000, "-d", 20, "-c", 8, "--chunk-rows", 2000, "--seed", 5, apart)
        self.assertEqual(status, 0, err)
        unread = 0
        for inp, args in ((shared("blobs.h5"), ("-k", 3, "--init", "random")), (apart, ("-k", 8))):
            status, out, err = kmeans("fit", inp, *args, "-v", "--json", "--tol", 0)
            self.assertEqual(status, 0, err)
            js = json.loads(out)
            iters = [line for line in err.replace("\r", "\n").splitlines() if re.match(r"^iter\s+\d+\b", line)]
            self.assertEqual(len(iters), js["n_iter"], err)
            for i, (line, h) in enumerate(zip(iters, js["history"]), 1):
                self.assertRegex(line, rf"^iter\s+{i}\b.*inertia")
                # the chunks the iteration left unread, when it left any (as --json's history says)
                self.assertEqual(f"({h['chunks_unread']} chunks unread)" in line, h["chunks_unread"] > 0, line)
                unread += h["chunks_unread"]
            self.assertNotIn("error", err)
        self.assertGreater(unread, 0)

    def test_environment_of_the_caller(self):
        # POSIXLY_CORRECT made getopt stop at the input, refusing every documented command line ("fit takes
        # INPUT"); OMP_THREAD_LIMIT=1 ran one thread while --json said 2.
        env = dict(os.environ, POSIXLY_CORRECT="1")
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "--json", env=env)
        self.assertEqual((status, err), (0, ""))
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-t", 2, "-q", "--json", env=env)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out)["parameters"]["threads"], 1)

    def test_small_stack_limit(self):
        # ulimit -s 64 crashed fits (SIGSEGV on a worker thread, temporaries left) and had chunkinfo call a
        # good file damaged (a crash inside HDF5). A soft limit is raised; a hard one too small is refused.
        def stack(soft, hard):
            return lambda: resource.setrlimit(resource.RLIMIT_STACK, (soft, hard))

        model = self.path("model.h5")
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "-q", "-o", model,
                                  preexec_fn=stack(64 << 10, resource.RLIM_INFINITY))
        self.assertEqual((status, err), (0, ""))
        os.unlink(model)
        for program, args in (("kmeans-ooc", ["fit", shared("blobs.h5"), "-k", 3, "-o", model]),
                              ("chunkinfo", [shared("blobs.h5"), "--stats"]),
                              ("chunkgen", ["-n", "100k", model])):
            with self.subTest(program=program):
                status, out, err = T.run([program, *args], preexec_fn=stack(64 << 10, 64 << 10))
                T.assert_one_error(self, program, status, err, 1, "stack limit", "ulimit -s")
                self.assertEqual(T.listdir(self.dir), [])
                # Threads' stacks set too small (chunkgen and chunkinfo died of SIGSEGV under 16K, temporaries
                # left), refused likewise.
                status, out, err = T.run([program, *args], env=dict(os.environ, OMP_STACKSIZE="16K"))
                T.assert_one_error(self, program, status, err, 1, "OMP_STACKSIZE=16K", "512 KiB")
                self.assertEqual(T.listdir(self.dir), [])

    def test_json(self):
        args = ("fit", shared("blobs.h5"), "-k", 3, "--json", "--seed", 5, "--init-max-iter", 2,
                "--oversampling-factor", 1.5, "--tol", "1e-3", "--max-iter", 50, "-t", 2, "--memory-limit", "1G",
                "-o", self.path("m.h5"))
        status, out, err = kmeans(*args)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        js = json.loads(out)  # exactly one object: anything else on stdout would not parse
        for key in ("n_samples", "n_features", "n_clusters", "inertia", "n_iter", "converged", "passes",
                    "bytes_read", "n_candidates", "seconds", "rows_per_second", "peak_rss_bytes", "history",
                    "cluster_sizes", "cluster_centers", "parameters"):
            self.assertIn(key, js)
        self.assertEqual((js["n_samples"], js["n_features"], js["n_clusters"]), (50000, 4, 3))
        self.assertEqual(set(js["seconds"]), {"stats", "init", "lloyd", "labels", "total"})
        for phase, seconds in js["seconds"].items():
            self.assertGreaterEqual(seconds, 0, phase)
        self.assertGreaterEqual(js["seconds"]["total"],
                                sum(v for k, v in js["seconds"].items() if k != "total") * 0.99)
        self.assertIsInstance(js["converged"], bool)
        self.assertGreater(js["bytes_read"], 0)
        self.assertGreater(js["rows_per_second"], 0)
        self.assertGreater(js["peak_rss_bytes"], 0)
        self.assertGreaterEqual(js["passes"], 1 + js["n_iter"])
        self.assertEqual(len(js["history"]), js["n_iter"])
        for i, h in enumerate(js["history"], 1):
            self.assertEqual(set(h), {"iter", "inertia", "shift", "empty_clusters", "relocated", "recomputed",
                                      "chunks_unread", "seconds"})
            self.assertGreaterEqual(h["seconds"], 0)
            self.assertEqual(h["iter"], i)
            # rows that went through the kernel: those the bounds could not keep; k-means|| seeds the first
            # iteration's bounds, which keep most rows of these separated blobs
            self.assertLessEqual(h["recomputed"], 50000)
            if i == 1:
                self.assertLess(h["recomputed"], 5000)
        # Lloyd never increases the inertia; the last entry's inertia is that of the centres it started from.
        inertias = [h["inertia"] for h in js["history"]]
        for a, b in zip(inertias, inertias[1:]):
            self.assertLessEqual(b, a * (1 + 1e-12))
        self.assertLessEqual(js["inertia"], inertias[-1] * (1 + 1e-12))
        self.assertEqual(sum(js["cluster_sizes"]), 50000)
        self.assertEqual(np.array(js["cluster_centers"]).shape, (3, 4))
        p = js["parameters"]
        self.assertEqual(p["input"], shared("blobs.h5"))
        self.assertEqual((p["n_clusters"], p["init"], p["oversampling_factor"], p["init_max_iter"], p["max_iter"],
                          p["tol"], p["seed"], p["threads"], p["memory_limit"]),
                         (3, "k-means||", 1.5, 2, 50, 1e-3, 5, 2, 1 << 30))
        self.assertEqual((p["model"], p["labels"]), (self.path("m.h5"), None))  # the outputs, as predict's

    def test_summary_line(self):
        # Without --json: one line of results on stdout whose phases add up to the total (the first pass,
        # reading the data and computing the statistics, is "stats", as in --json's seconds).
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3)
        self.assertEqual((status, err), (0, ""))
        m = re.fullmatch(r"kmeans: 50000 x 4, k=3, inertia \S+, \d+ iterations \((converged|max-iter reached)\), "
                         r"\d+ passes, ([\d.]+) s \(stats ([\d.]+) s, init ([\d.]+) s, lloyd ([\d.]+) s, "
                         r"labels ([\d.]+) s\)\n", out)
        self.assertTrue(m, out)
        total, *phases = (float(x) for x in m.groups()[1:])
        self.assertLessEqual(sum(phases), total + 0.03)
        self.assertGreaterEqual(sum(phases), 0.5 * total - 0.03)

    def test_json_file_name_not_utf8(self):
        # A file name in another encoding (Latin-1 here): JSON holds text, so its bad byte becomes U+FFFD
        # (before, jansson refused the string and the whole "parameters" object fell out of the output).
        name = os.path.join(os.fsencode(self.dir), b"lat\xe9.h5")
        shutil.copyfile(shared("blobs.h5"), name)
        p = subprocess.run([KMEANS, "fit", name, "-k", "2", "--max-iter", "2", "-q", "--json"], capture_output=True)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        js = json.loads(p.stdout)
        self.assertTrue(js["parameters"]["input"].endswith("lat\ufffd.h5"), js["parameters"])
        self.assertEqual(js["parameters"]["n_clusters"], 2)
        p = subprocess.run([T.tool("chunkinfo"), name, "--json"], capture_output=True)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertTrue(json.loads(p.stdout)["input"].endswith("lat\ufffd.h5"))

    def test_json_largest_seed(self):
        status, out, err = kmeans("fit", shared("blobs.h5"), "-k", 3, "--json", "--max-iter", 1,
                                  "--seed", 2**63 - 1)
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(out)["parameters"]["seed"], 2**63 - 1)

    def test_json_threads_are_those_used(self):
        # Without -t, a limit that holds one thread's buffers but not two: parameters.threads says 1 (as
        # chunkinfo's does), not the cores asked for by default.
        if (os.cpu_count() or 1) < 2:
            self.skipTest("needs two cores")
        args = ("fit", "blobs:samples=1M,features=20", "-k", 4, "--json", "-q", "--max-iter", 2)
        status, out, err = kmeans(*args, "--memory-limit", "1M", "-t", 1)
        self.one_error(status, err, 1, "--memory-limit", "needs")
        one_thread = err.split("needs ")[1].split(" MiB")[0] + "M"
        status, out, err = kmeans(*args, "--memory-limit", one_thread)
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(out)["parameters"]["threads"], 1)
        status, out, err = kmeans(*args, "--memory-limit", one_thread, "-t", 2)
        self.one_error(status, err, 1, "--memory-limit")

    def test_predict_with_centres_alone(self):
        # A file holding only /cluster_centers (another program's, as scikit-learn's cluster_centers_ saved with
        # h5py) labels the data as the full model does.
        with T.open_h5(shared("model.h5")) as f:
            C = f["cluster_centers"][...]
        alone = self.path("centres.h5")
        with h5py.File(alone, "w") as f:
            f["cluster_centers"] = C
        for model, out in ((shared("model.h5"), self.path("full.h5")), (alone, self.path("alone.h5"))):
            status, _, err = kmeans("predict", model, shared("blobs.h5"), "-q", "--labels", out)
            self.assertEqual(status, 0, err)
        with T.open_h5(self.path("full.h5")) as f, T.open_h5(self.path("alone.h5")) as g:
            np.testing.assert_array_equal(f["labels"][...], g["labels"][...])

    def test_json_predict(self):
        status, out, err = kmeans("predict", shared("model.h5"), shared("blobs.h5"), "--json",
                                  "--labels", self.path("l.h5"))
        self.assertEqual(status, 0, err)
        js = json.loads(out)
        with T.open_h5(shared("model.h5")) as f:
            inertia = float(f.attrs["inertia"])
        self.assertEqual((js["n_samples"], js["n_features"], js["n_clusters"]), (50000, 4, 3))
        # the model's from the fit's per-cluster sums, predict's summed row by row: equal up to rounding
        self.assertLessEqual(abs(js["inertia"] - inertia), 1e-12 * inertia)
        self.assertGreater(js["peak_rss_bytes"], 0)
        # fit's keys that a prediction has: one pass, reading the stored chunks once; what it was asked
        self.assertEqual(js["passes"], 1)
        with T.open_h5(shared("blobs.h5")) as f:
            stored = f["X"].id.get_storage_size()
        self.assertGreaterEqual(js["bytes_read"], stored)
        self.assertLessEqual(js["bytes_read"], stored * 1.01)
        self.assertEqual(set(js["seconds"]), {"labels", "total"})
        self.assertGreater(js["seconds"]["total"], 0)
        self.assertEqual(js["parameters"]["model"], shared("model.h5"))
        self.assertEqual(js["parameters"]["input"], shared("blobs.h5"))
        self.assertEqual(js["parameters"]["labels"], self.path("l.h5"))
        self.assertGreaterEqual(js["parameters"]["threads"], 1)

    def test_count_forms(self):
        for k in ("3", "3e0", "0.003k"):
            with self.subTest(k=k):
                status, out, err = kmeans("fit", shared("blobs.h5"), "-k", k, "--json", "-q")
                self.assertEqual(status, 0, err)
                self.assertEqual(json.loads(out)["n_clusters"], 3)


if __name__ == "__main__":
    unittest.main()
