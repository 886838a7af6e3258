"""chunkgen output read back by independent readers: h5py and h5dump through the zstd filter plugin, the zstd
command-line tool on raw chunks, and numpy/scipy statistics of the blobs."""
import filecmp
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import ooc_testlib as T

import numpy as np
import scipy.stats

h5py = T.h5py()

SHUFFLE, ZSTD = 2, 32015


def gen(tc, path, *args):
    """chunkgen -q ARGS PATH, asserting success."""
    status, out, err = T.chunkgen("-q", *args, path)
    tc.assertEqual(status, 0, f"chunkgen {' '.join(map(str, args))} failed:\n{err}")
    tc.assertEqual(out, "", "-q prints nothing on stdout")
    return path


def read(path, name="X"):
    with T.open_h5(path) as f:
        return f[name][...]


class Layout(unittest.TestCase):
    """Datasets, chunking, filters and attributes as HDF5 readers see them."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def check_layout(self, dtype, n=1000, d=7, k=3, chunk_rows=300):
        p = gen(self, self.path(f"{dtype}.h5"), "-n", n, "-d", d, "-c", k, "--chunk-rows", chunk_rows,
                "--dtype", dtype)
        expect_rows = min(chunk_rows, n)
        with T.open_h5(p) as f:
            self.assertEqual(set(f.keys()), {"X", "y", "centers"})
            x, y, c = f["X"], f["y"], f["centers"]
            self.assertEqual(x.shape, (n, d))
            self.assertEqual(x.dtype, np.dtype(dtype))
            self.assertEqual(x.dtype.byteorder in "<=", True)
            self.assertEqual(x.chunks, (expect_rows, d))
            nchunks = -(-n // expect_rows)
            self.assertEqual(x.id.get_num_chunks(), nchunks)
            self.assertEqual(y.shape, (n,))
            self.assertEqual(y.dtype, np.dtype("int32"))
            self.assertEqual(y.chunks, (expect_rows,))
            self.assertEqual(y.id.get_num_chunks(), nchunks)
            self.assertEqual(c.shape, (k, d))
            self.assertEqual(c.dtype, np.dtype("float64"))
            for ds in (x, y):
                fl = T.filters(ds)
                self.assertEqual([e[0] for e in fl], [SHUFFLE, ZSTD], ds.name)
                self.assertEqual(fl[1][2][0], 3, "default level zstd:3")
            # Every row, the last partial chunk included, reads back finite; labels are blob indices.
            xv, yv = x[...], y[...]
            self.assertTrue(np.isfinite(xv).all())
            self.assertTrue(((yv >= 0) & (yv < k)).all())
            self.assertEqual(len(np.unique(yv)), k)
            # No row is left zero (HDF5 pads the last chunk; the padding must not show).
            self.assertFalse((xv == 0).all(axis=1).any())
            self.assertEqual(int(f.attrs["chunk_rows"]), expect_rows)

    def test_float64_layout_with_partial_last_chunk(self):
        self.check_layout("float64")

    def test_float32_layout_with_partial_last_chunk(self):
        self.check_layout("float32")

    def test_chunk_rows_above_samples_clamps_to_samples(self):
        self.check_layout("float64", n=500, d=4, k=2, chunk_rows=200000)

    def test_exact_multiple_of_chunk_rows(self):
        self.check_layout("float64", n=900, d=3, k=2, chunk_rows=300)

    def test_levels_in_cd_values(self):
        for level in (1, 3, 19):
            p = gen(self, self.path(f"l{level}.h5"), "-n", 2000, "-d", 3, "--chunk-rows", 500,
                    "--compression", f"zstd:{level}")
            with T.open_h5(p) as f:
                for name in ("X", "y"):
                    fl = T.filters(f[name])
                    self.assertEqual([e[0] for e in fl], [SHUFFLE, ZSTD])
                    self.assertEqual(fl[1][2][0], level)
                self.assertEqual(f.attrs["compression"], f"zstd:{level}")
                self.assertEqual(f["X"].shape, (2000, 3))
                self.assertTrue(np.isfinite(f["X"][...]).all())

    def test_zstd_without_level_is_level_3(self):
        p = gen(self, self.path("z.h5"), "-n", 100, "-d", 2, "--compression", "zstd")
        with T.open_h5(p) as f:
            self.assertEqual(T.filters(f["X"])[-1][2][0], 3)
            self.assertEqual(f.attrs["compression"], "zstd:3")

    def test_no_shuffle(self):
        p = gen(self, self.path("ns.h5"), "-n", 1000, "-d", 3, "--no-shuffle", "--chunk-rows", 400)
        with T.open_h5(p) as f:
            for name in ("X", "y"):
                self.assertEqual([e[0] for e in T.filters(f[name])], [ZSTD])
            self.assertEqual(int(f.attrs["shuffle"]), 0)
            self.assertTrue(np.isfinite(f["X"][...]).all())

    def test_compression_none_has_no_filters(self):
        p = gen(self, self.path("none.h5"), "-n", 1000, "-d", 3, "--compression", "none", "--chunk-rows", 400)
        with T.open_h5(p) as f:
            self.assertEqual(f.attrs["compression"], "none")
            self.assertEqual(f["X"].chunks, (400, 3))
            self.assertEqual(T.filters(f["X"]), [], "--compression none: /X")
            self.assertEqual(T.filters(f["y"]), [], "--compression none: /y")

    def test_compression_none_values_equal_zstd_values(self):
        a = gen(self, self.path("none.h5"), "-n", 1000, "-d", 3, "--compression", "none", "--no-shuffle")
        b = gen(self, self.path("zstd.h5"), "-n", 1000, "-d", 3)
        np.testing.assert_array_equal(read(a), read(b))
        np.testing.assert_array_equal(read(a, "y"), read(b, "y"))

    def test_attributes_hold_the_given_values(self):
        p = gen(self, self.path("attrs.h5"), "-n", "2k", "-d", 5, "-c", 4, "--cluster-std", 0.5,
                "--center-box", "-3,7", "--seed", 42, "--chunk-rows", 700, "--dtype", "float32",
                "--compression", "zstd:5", "--no-shuffle")
        with T.open_h5(p) as f:
            a = f.attrs
            self.assertEqual(int(a["samples"]), 2000)
            self.assertEqual(int(a["features"]), 5)
            self.assertEqual(int(a["centers"]), 4)
            self.assertEqual(float(a["cluster_std"]), 0.5)
            self.assertEqual(list(np.asarray(a["center_box"], dtype=float)), [-3.0, 7.0])
            self.assertEqual(int(a["seed"]), 42)
            self.assertEqual(int(a["chunk_rows"]), 700)
            self.assertEqual(a["dtype"], "float32")
            self.assertEqual(a["compression"], "zstd:5")
            self.assertEqual(int(a["shuffle"]), 0)
            self.assertEqual(f["X"].shape, (2000, 5))
            self.assertEqual(f["X"].dtype, np.dtype("float32"))
            self.assertEqual(f["X"].chunks, (700, 5))

    def test_default_attributes(self):
        p = gen(self, self.path("defaults.h5"), "-n", 300)
        with T.open_h5(p) as f:
            a = f.attrs
            self.assertEqual((int(a["samples"]), int(a["features"]), int(a["centers"])), (300, 20, 12))
            self.assertEqual(float(a["cluster_std"]), 1.0)
            self.assertEqual(list(np.asarray(a["center_box"], dtype=float)), [-10.0, 10.0])
            self.assertEqual(int(a["seed"]), 0)
            self.assertEqual(a["dtype"], "float64")
            self.assertEqual(a["compression"], "zstd:3")
            self.assertEqual(int(a["shuffle"]), 1)
            self.assertEqual(f["centers"].shape, (12, 20))

    def test_no_labels(self):
        p = gen(self, self.path("nolab.h5"), "-n", 500, "-d", 2, "--no-labels")
        with T.open_h5(p) as f:
            self.assertNotIn("y", f)
            self.assertEqual(f["X"].shape, (500, 2))
        # /X does not depend on whether /y is written.
        q = gen(self, self.path("lab.h5"), "-n", 500, "-d", 2)
        np.testing.assert_array_equal(read(p), read(q))


class H5dump(unittest.TestCase):
    """The HDF5 command-line tools read the files through the plugin; without it, data is unreadable."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.file = os.path.join(cls.tmp.name, "d.h5")
        status, _, err = T.chunkgen("-q", "-n", 1000, "-d", 6, "-c", 3, "--chunk-rows", 300,
                                    "--compression", "zstd:7", cls.file)
        assert status == 0, err
        cls.empty_plugins = os.path.join(cls.tmp.name, "no-plugins")
        os.mkdir(cls.empty_plugins)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertTrue(shutil.which("h5dump"), "h5dump (hdf5-tools) missing: tools/setup.sh installs it")

    def h5dump(self, *args, plugin_path=None):
        env = dict(os.environ, HDF5_PLUGIN_PATH=plugin_path or T.PLUGIN_PATH)
        p = subprocess.run(["h5dump", *map(str, args), self.file], capture_output=True, text=True, timeout=60,
                           env=env)
        return p.returncode, p.stdout, p.stderr

    def test_header_shows_chunks_and_filters(self):
        status, out, err = self.h5dump("-H", "-p")
        self.assertEqual(status, 0, err)
        x = out[out.index('DATASET "X"'):]
        x = x[:x.index("DATASET", 1)] if "DATASET" in x[1:] else x
        self.assertRegex(x, r"CHUNKED \( 300, 6 \)")
        self.assertRegex(x, r"PREPROCESSING SHUFFLE")
        self.assertRegex(x, r"FILTER_ID 32015")
        self.assertRegex(x, r"PARAMS \{ 7 \}")
        self.assertLess(x.index("SHUFFLE"), x.index("32015"), "shuffle runs before zstd")
        self.assertRegex(out, r'DATASET "y"')
        self.assertRegex(out, r'DATASET "centers"')

    def subset(self, plugin_path=None):
        status, out, err = self.h5dump("-y", "-w", "0", "-m", "%.17g", "-d", "/X", "-s", "298,1", "-c", "4,3",
                                       plugin_path=plugin_path)
        m = re.search(r"DATA \{(.*?)\}", out, re.S)
        values = [float(v) for v in m.group(1).replace(",", " ").split()] if m else []
        return status, values, out + err

    def test_subset_across_a_chunk_boundary_matches_h5py(self):
        status, values, text = self.subset()
        self.assertEqual(status, 0, text)
        self.assertEqual(len(values), 12, text)
        np.testing.assert_array_equal(np.array(values).reshape(4, 3), read(self.file)[298:302, 1:4])

    def test_h5dump_without_plugin_cannot_read_data(self):
        _, values, text = self.subset(plugin_path=self.empty_plugins)
        self.assertEqual(values, [], "h5dump read /X without the plugin?\n" + text)

    def test_h5py_without_plugin_reads_metadata_but_not_data(self):
        code = (
            "import sys, h5py\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "assert f['X'].shape == (1000, 6), f['X'].shape\n"
            "assert int(f.attrs['samples']) == 1000\n"
            "assert f['centers'][...].shape == (3, 6)\n"
            "try:\n"
            "    f['X'][0:1]\n"
            "except OSError:\n"
            "    print('unreadable')\n"
            "else:\n"
            "    print('readable')\n")
        env = dict(os.environ, HDF5_PLUGIN_PATH=self.empty_plugins)
        p = subprocess.run([T.PYTHON, "-c", code, self.file], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "unreadable")
        # ... and with the plugin it reads (this process has HDF5_PLUGIN_PATH set).
        self.assertEqual(read(self.file)[0:1].shape, (1, 6))


class Statistics(unittest.TestCase):
    """The blobs are what they claim: Gaussian around /centers with the given std, labels uniform."""

    N, D, K, STD = 120000, 6, 5, 2.5

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.file = os.path.join(cls.tmp.name, "s.h5")
        status, _, err = T.chunkgen("-q", "-n", cls.N, "-d", cls.D, "-c", cls.K, "--cluster-std", cls.STD,
                                    "--center-box=-3,7", "--seed", 11, "--chunk-rows", 25000, cls.file)
        assert status == 0, err
        with T.open_h5(cls.file) as f:
            cls.X, cls.y, cls.C = f["X"][...], f["y"][...], f["centers"][...]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_blob_means_near_centers(self):
        for j in range(self.K):
            rows = self.X[self.y == j]
            n = len(rows)
            self.assertGreater(n, 1000)
            se = self.STD / np.sqrt(n)
            dev = np.abs(rows.mean(axis=0) - self.C[j]) / se
            self.assertLess(dev.max(), 5.0, f"blob {j}: mean off centre by {dev.max():.1f} standard errors")

    def test_blob_std_matches_cluster_std(self):
        for j in range(self.K):
            rows = self.X[self.y == j]
            n = len(rows)
            s = rows.std(axis=0, ddof=1)
            se = self.STD / np.sqrt(2 * (n - 1))
            dev = np.abs(s - self.STD) / se
            self.assertLess(dev.max(), 6.0, f"blob {j}: std {s} vs {self.STD}")

    def test_residuals_are_standard_normal_and_uncorrelated(self):
        z = (self.X - self.C[self.y]) / self.STD
        sample = z[:40000].ravel()
        p = scipy.stats.kstest(sample, "norm").pvalue
        self.assertGreater(p, 1e-4, "residuals are not N(0, 1) (Kolmogorov-Smirnov)")
        # Tails: the share beyond 3 sigma is that of a normal (0.27%).
        tail = np.mean(np.abs(z) > 3)
        self.assertLess(abs(tail - 0.0026998) / np.sqrt(0.0027 / z.size), 6.0, f"3-sigma tail share {tail}")
        r = np.corrcoef(z, rowvar=False)
        off = np.abs(r[~np.eye(self.D, dtype=bool)])
        self.assertLess(off.max(), 5.0 / np.sqrt(self.N), "features are correlated")
        # Consecutive rows are independent too.
        lag = np.corrcoef(z[:-1, 0], z[1:, 0])[0, 1]
        self.assertLess(abs(lag), 5.0 / np.sqrt(self.N))

    def test_labels_roughly_uniform(self):
        counts = np.bincount(self.y, minlength=self.K)
        self.assertEqual(len(counts), self.K)
        p = scipy.stats.chisquare(counts).pvalue
        self.assertGreater(p, 1e-4, f"label counts {counts}")
        # Labels are not in blocks: every chunk holds every blob.
        for start in range(0, self.N, 25000):
            self.assertEqual(len(np.unique(self.y[start:start + 25000])), self.K)

    def test_centers_inside_center_box(self):
        self.assertEqual(self.C.shape, (self.K, self.D))
        self.assertTrue(((self.C >= -3) & (self.C <= 7)).all(), self.C)
        # Spread over the box, not collapsed to a point or an edge.
        self.assertGreater(self.C.max() - self.C.min(), 5.0)
        self.assertGreater(len(np.unique(self.C)), self.K * self.D - 1)

    def test_cluster_std_zero_puts_every_row_on_its_centre(self):
        with tempfile.TemporaryDirectory() as d:
            p = gen(self, os.path.join(d, "z.h5"), "-n", 3000, "-d", 4, "-c", 3, "--cluster-std", 0,
                    "--chunk-rows", 1000)
            with T.open_h5(p) as f:
                np.testing.assert_array_equal(f["X"][...], f["centers"][...][f["y"][...]])


class CentersFrom(unittest.TestCase):
    C = np.array([[0.0, 0.0, 0.0, 0.0], [10.0, -10.0, 5.0, 1.0], [-20.0, 3.5, 0.125, 7.0]])

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.cfile = os.path.join(self.dir, "c.h5")
        with h5py.File(self.cfile, "w") as f:
            f["C"] = self.C
            f["grp/C32"] = self.C.astype(np.float32)

    def tearDown(self):
        self.tmp.cleanup()

    def test_uses_exactly_the_given_centres(self):
        out = gen(self, os.path.join(self.dir, "o.h5"), "-n", 30000, "--cluster-std", 0.5, "--chunk-rows", 7000,
                  "--centers-from", self.cfile + ":/C")
        with T.open_h5(out) as f:
            np.testing.assert_array_equal(f["centers"][...], self.C)
            self.assertEqual(int(f.attrs["centers"]), 3)
            self.assertEqual(int(f.attrs["features"]), 4)
            X, y = f["X"][...], f["y"][...]
        self.assertEqual(X.shape, (30000, 4))
        for j in range(3):
            rows = X[y == j]
            self.assertGreater(len(rows), 5000)
            dev = np.abs(rows.mean(axis=0) - self.C[j]) / (0.5 / np.sqrt(len(rows)))
            self.assertLess(dev.max(), 5.0)

    def test_float32_centres_and_nested_dataset(self):
        out = gen(self, os.path.join(self.dir, "o.h5"), "-n", 1000, "--centers-from", self.cfile + ":/grp/C32")
        np.testing.assert_array_equal(read(out, "centers"), self.C.astype(np.float32).astype(np.float64))

    def test_default_dataset_is_centers_of_another_chunkgen_file(self):
        first = gen(self, os.path.join(self.dir, "a.h5"), "-n", 500, "-d", 3, "-c", 4, "--seed", 5)
        second = gen(self, os.path.join(self.dir, "b.h5"), "-n", 800, "--seed", 6, "--centers-from", first)
        np.testing.assert_array_equal(read(second, "centers"), read(first, "centers"))
        self.assertEqual(read(second).shape, (800, 3))

    def test_matching_k_and_d_accepted(self):
        gen(self, os.path.join(self.dir, "o.h5"), "-n", 100, "-c", 3, "-d", 4, "--centers-from", self.cfile + ":/C")

    def test_conflicting_k_or_d_is_bad_usage(self):
        for opt in (["-c", 5], ["-d", 3]):
            out = os.path.join(self.dir, "o.h5")
            status, _, err = T.chunkgen("-q", "-n", 100, *opt, "--centers-from", self.cfile + ":/C", out)
            T.assert_one_error(self, "chunkgen", status, err, 2, "--centers-from")
            self.assertEqual(T.listdir(self.dir), ["c.h5"])

    def test_missing_dataset_fails_naming_it(self):
        out = os.path.join(self.dir, "o.h5")
        status, _, err = T.chunkgen("-q", "-n", 100, "--centers-from", self.cfile + ":/nope", out)
        T.assert_one_error(self, "chunkgen", status, err, 1, "/nope")
        self.assertEqual(T.listdir(self.dir), ["c.h5"])


class Equivalence(unittest.TestCase):
    """Same parameters, same values: across dtype, seed, chunking and thread count."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def gen(self, name, *args):
        return gen(self, os.path.join(self.dir, name), *args)

    def test_float32_is_float64_rounded(self):
        a = self.gen("64.h5", "-n", 20000, "-d", 5, "--chunk-rows", 3000, "--seed", 3)
        b = self.gen("32.h5", "-n", 20000, "-d", 5, "--chunk-rows", 3000, "--seed", 3, "--dtype", "float32")
        x64, x32 = read(a), read(b)
        self.assertEqual(x32.dtype, np.float32)
        np.testing.assert_array_equal(x64.astype(np.float32), x32)
        np.testing.assert_array_equal(read(a, "y"), read(b, "y"))
        np.testing.assert_array_equal(read(a, "centers"), read(b, "centers"))

    def test_seed_decides_the_data(self):
        a = self.gen("a.h5", "-n", 5000, "-d", 4, "--seed", 9)
        b = self.gen("b.h5", "-n", 5000, "-d", 4, "--seed", 9)
        c = self.gen("c.h5", "-n", 5000, "-d", 4, "--seed", 10)
        np.testing.assert_array_equal(read(a), read(b))
        xa, xc = read(a), read(c)
        self.assertFalse((xa == xc).any(axis=1).all(), "different seeds gave the same rows")
        self.assertFalse(np.array_equal(read(a, "centers"), read(c, "centers")))

    def test_chunk_rows_does_not_change_values(self):
        a = self.gen("a.h5", "-n", 12345, "-d", 3, "--chunk-rows", 1000)
        b = self.gen("b.h5", "-n", 12345, "-d", 3, "--chunk-rows", 200000)
        c = self.gen("c.h5", "-n", 12345, "-d", 3, "--chunk-rows", 1)  # 12345 one-row chunks
        for name in ("X", "y", "centers"):
            np.testing.assert_array_equal(read(a, name), read(b, name))
            np.testing.assert_array_equal(read(a, name), read(c, name))
        with T.open_h5(c) as f:
            self.assertEqual(f["X"].chunks, (1, 3))

    def test_threads_give_byte_identical_files(self):
        for extra in ([], ["--dtype", "float32"], ["--no-shuffle"], ["--compression", "none"]):
            common = ["-n", 60000, "-d", 5, "--chunk-rows", 4000, *extra]
            a = self.gen("t1.h5", "-f", "-t", 1, *common)
            b = self.gen("t2.h5", "-f", "-t", 2, *common)
            c = self.gen("t7.h5", "-f", "-t", 7, *common)
            self.assertTrue(filecmp.cmp(a, b, shallow=False), f"-t 1 vs -t 2 differ with {extra}")
            self.assertTrue(filecmp.cmp(a, c, shallow=False), f"-t 1 vs -t 7 differ with {extra}")


class Codec(unittest.TestCase):
    """The stored chunks are standard: shuffle + one zstd frame with a content checksum, decodable by zstd(1);
    a damaged chunk is detected; h5py can also write through the plugin."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_raw_chunks_are_checksummed_zstd_frames_of_shuffled_bytes(self):
        self.assertTrue(shutil.which("zstd"), "zstd(1) missing: tools/setup.sh installs it")
        p = gen(self, os.path.join(self.dir, "r.h5"), "-n", 1000, "-d", 5, "--chunk-rows", 300, "--dtype", "float32")
        with T.open_h5(p) as f:
            x = f["X"]
            X = x[...]
            for i in range(x.id.get_num_chunks()):
                info = x.id.get_chunk_info(i)
                mask, raw = x.id.read_direct_chunk(info.chunk_offset)
                self.assertEqual(mask, 0)
                self.assertEqual(raw[:4], b"\x28\xb5\x2f\xfd", "zstd frame magic")
                self.assertTrue(raw[4] & 0x04, "frame header: content checksum flag")
                dec = subprocess.run(["zstd", "-d", "-c", "-q"], input=raw, capture_output=True, timeout=60)
                self.assertEqual(dec.returncode, 0, dec.stderr)
                self.assertEqual(len(dec.stdout), 300 * 5 * 4, "a chunk decodes to full chunk size")
                plain = np.frombuffer(dec.stdout, np.uint8).reshape(4, -1).T.copy().view("<f4").reshape(300, 5)
                r0 = info.chunk_offset[0]
                rows = min(300, 1000 - r0)
                np.testing.assert_array_equal(plain[:rows], X[r0:r0 + rows])

    def test_corrupt_chunk_is_detected(self):
        p = gen(self, os.path.join(self.dir, "c.h5"), "-n", 900, "-d", 4, "--chunk-rows", 300)
        with T.open_h5(p) as f:
            good = f["X"][...]
            info = f["X"].id.get_chunk_info(1)
        # Flip one bit of the frame's last byte: its content checksum. Only the checksum can notice.
        with open(p, "r+b") as fh:
            fh.seek(info.byte_offset + info.size - 1)
            b = fh.read(1)[0]
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([b ^ 0x01]))
        with T.open_h5(p) as f:
            np.testing.assert_array_equal(f["X"][0:300], good[0:300])
            np.testing.assert_array_equal(f["X"][600:900], good[600:900])
            with self.assertRaises(OSError):
                f["X"][300:600]

    def test_h5py_writes_through_the_plugin(self):
        p = os.path.join(self.dir, "w.h5")
        rng = np.random.default_rng(1)
        data = rng.normal(size=(5000, 7))
        ints = rng.integers(-1000, 1000, size=(5000,), dtype=np.int32)
        self.assertTrue(h5py.h5z.filter_avail(ZSTD), "the plugin is not found on HDF5_PLUGIN_PATH")
        with h5py.File(p, "w") as f:
            f.create_dataset("X", data=data, chunks=(1000, 7), compression=ZSTD, compression_opts=(5,),
                             shuffle=True)
            f.create_dataset("i", data=ints, chunks=(1000,), compression=ZSTD, compression_opts=(19,))
        with h5py.File(p, "r") as f:
            self.assertEqual([e[0] for e in T.filters(f["X"])], [SHUFFLE, ZSTD])
            self.assertEqual(T.filters(f["X"])[1][2][0], 5)
            np.testing.assert_array_equal(f["X"][...], data)
            np.testing.assert_array_equal(f["i"][...], ints)
            # Really compressed: the plugin's encode path ran (the ints compress well).
            self.assertLess(f["i"].id.get_storage_size(), ints.nbytes)


if __name__ == "__main__":
    unittest.main()
