"""Unusual shapes and magnitudes against numpy: labels are the nearest centre, inertia numpy's, statistics
numpy's, and a fit of data scaled by a power of two (exact in floating point) is the unscaled fit, scaled."""
import itertools
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ooc_testlib as T  # noqa: E402  (sets HDF5_PLUGIN_PATH before h5py is imported)

import numpy as np  # noqa: E402

h5py = T.h5py()

RUNS = itertools.count()  # names the outputs of each run


setUpModule, tearDownModule, tmp = T.module_tempdir("oracle_shapes_")


def blobs(rows, cols, k, seed=0, offset=0.0):
    """rows x cols float64: k well-separated Gaussian blobs around offset."""
    rng = np.random.default_rng(seed)
    centres = offset + rng.uniform(-20, 20, size=(k, cols))
    return centres[rng.integers(0, k, size=rows)] + rng.normal(scale=0.5, size=(rows, cols))


def write(name, X, **kw):
    p = tmp(name)
    with h5py.File(p, "w") as f:
        f.create_dataset("X", data=X, **kw)
    return p


def ok(tc, argv):
    """stdout of a successful run of argv, which must print nothing on stderr."""
    status, out, err = T.run(argv)
    tc.assertEqual(status, 0, f"{' '.join(map(str, argv))}: exit {status}:\n{err}")
    tc.assertEqual(T.error_lines(err), [], f"{' '.join(map(str, argv))} printed on stderr")
    return out


def fit(tc, inp, *args):
    """kmeans-ooc fit of inp: its JSON, centres and labels."""
    name = tmp(f"fit-{next(RUNS)}")
    js = json.loads(ok(tc, ["kmeans-ooc", "fit", inp, "--json", "-q", "-o", name + ".model.h5",
                            "--labels", name + ".labels.h5", *args]))
    with h5py.File(name + ".model.h5", "r") as f:
        C = f["cluster_centers"][...]
    with h5py.File(name + ".labels.h5", "r") as f:
        lab = f["labels"][...]
    js["model"] = name + ".model.h5"
    return js, C, lab


def predict(tc, model, inp):
    out = tmp(f"predict-{next(RUNS)}.h5")
    js = json.loads(ok(tc, ["kmeans-ooc", "predict", model, inp, "--labels", out, "--json", "-q"]))
    with h5py.File(out, "r") as f:
        return js, f["labels"][...]


class LargeFloat32(unittest.TestCase):
    """float32 values past about 1e19, whose squares overflow float32 (not float64, in which the tool measures
    distances): the fast kernels rank centres by float32 scores that then overflow, and labelled rows with a
    centre other than their nearest (990 of 1000 rows wrong)."""

    def test_nearest_centre_in_every_kernel(self):
        # k x d: 3 x 4 takes the direct kernel (with AVX2), 40 x 64 the GEMM one; -t 1 and -t 2 the same bits.
        for (k, d), scale, init in itertools.product(((3, 4), (40, 64)), (2.0 ** 60, 2.0 ** 100),
                                                     ("k-means||", "random")):
            with self.subTest(k=k, d=d, scale=scale, init=init):
                X = (blobs(1000, d, k, seed=d) * scale).astype(np.float32)
                self.assertTrue(np.isfinite(X).all())
                p = write(f"large-f32-{k}-{d}-{scale}-{init}.h5", X, chunks=(300, d))
                one, C1, lab1 = fit(self, p, "-k", k, "--init", init, "-t", 1)
                T.assert_nearest_centres(self, X, C1, lab1, one["inertia"], "fit")
                two, C2, lab2 = fit(self, p, "-k", k, "--init", init, "-t", 2)
                self.assertEqual((one["inertia"], one["n_iter"], C1.tobytes(), lab1.tobytes()),
                                 (two["inertia"], two["n_iter"], C2.tobytes(), lab2.tobytes()))
                pj, plab = predict(self, one["model"], p)
                np.testing.assert_array_equal(plab, lab1)
                # the fit's inertia from per-cluster sums, predict's row by row: equal up to rounding
                self.assertLessEqual(abs(pj["inertia"] - one["inertia"]), 1e-12 * one["inertia"])

    def test_float32_extremes_own_centres(self):
        """Three rows, three clusters: each row is its own centre, inertia 0."""
        X = np.array([[3.4e38, 1.0], [-3.4e38, 2.0], [0.0, 3.0]], dtype=np.float32)
        p = write("f32-extremes.h5", X)
        js, C, lab = fit(self, p, "-k", 3)
        T.assert_nearest_centres(self, X, C, lab, js["inertia"], "fit")
        self.assertEqual(js["inertia"], 0.0)
        self.assertEqual(sorted(lab.tolist()), [0, 1, 2])


class LargeMean(unittest.TestCase):
    """Columns whose mean's square overflows float64 (|mean| past 1e154) while their spread's does not: the
    merge of a chunk's statistics into the empty total computed delta² · 0 = inf · 0 = NaN, so chunkinfo
    printed a variance of null and fit's tolerance (tol × mean variance) was NaN: it never converged and ran
    all 300 iterations."""

    def test_statistics_and_convergence(self):
        X = blobs(2000, 4, 3, seed=4, offset=10000.0)
        Y = X * 2.0 ** 500  # exact: the same data in other units, its mean about 3e154
        px = write("mean-x.h5", X, chunks=(500, 4))
        py = write("mean-y.h5", Y, chunks=(500, 4))
        cols = json.loads(ok(self, ["chunkinfo", py, "--stats", "--json", "-q"]))["columns"]
        for j, c in enumerate(cols):
            self.assertIsNotNone(c["var"], f"column {j}: variance")
            self.assertLessEqual(abs(c["var"] - Y[:, j].var()), 1e-9 * Y[:, j].var(), f"column {j}: variance")
        # --init random: every other step is exact under scaling by a power of two.
        jx, Cx, labx = fit(self, px, "-k", 3, "--init", "random")
        jy, Cy, laby = fit(self, py, "-k", 3, "--init", "random")
        self.assertTrue(jx["converged"])
        self.assertEqual((jy["converged"], jy["n_iter"]), (jx["converged"], jx["n_iter"]))
        np.testing.assert_array_equal(laby, labx)
        np.testing.assert_array_equal(Cy, Cx * 2.0 ** 500)
        T.assert_nearest_centres(self, Y, Cy, laby, jy["inertia"], "fit")


class ScaledInit(unittest.TestCase):
    """k-means|| and k-means++ keep each row's squared distance to its nearest candidate as a float, whose
    range squared distances of float64 data far from 1 leave (values below about 1e-19 or above 1e19): they
    rounded to 0 or to infinity, the draws went blind, and the fits ended 67x (k-means||) and 280x (k-means++)
    the inertia of the same data in other units. The data multiplied by a power of two (exact) must give the
    same fit: the same candidates, iterations and labels, the centres and inertia scaled."""

    def test_same_fit_at_any_scale(self):
        X = blobs(3000, 4, 8, seed=8)
        X[:, 0] *= 3  # not round blobs
        cases = [(np.float64, e) for e in (-300, -70, 70, 300)] + [(np.float32, e) for e in (-60, 62)]
        for init in ("k-means||", "k-means++"):
            base = {}
            for dtype in (np.float64, np.float32):
                p = write(f"scaled-{dtype.__name__}-0-{init}.h5", X.astype(dtype), chunks=(700, 4))
                base[dtype] = fit(self, p, "-k", 8, "--init", init)
            for dtype, e in cases:
                with self.subTest(init=init, dtype=dtype.__name__, scale=f"2^{e}"):
                    Y = X.astype(dtype) * dtype(2.0 ** e)
                    self.assertTrue(np.isfinite(Y).all() and (Y[X != 0] != 0).all())
                    p = write(f"scaled-{dtype.__name__}-{e}-{init}.h5", Y, chunks=(700, 4))
                    js, C, lab = fit(self, p, "-k", 8, "--init", init)
                    want, Cw, labw = base[dtype]
                    self.assertEqual((js["n_candidates"], js["n_iter"]), (want["n_candidates"], want["n_iter"]))
                    np.testing.assert_array_equal(lab, labw)
                    np.testing.assert_array_equal(C, Cw * 2.0 ** e)
                    self.assertEqual(js["inertia"], want["inertia"] * 2.0 ** (2 * e))
                    T.assert_nearest_centres(self, Y, C, lab, js["inertia"], "fit")


class MaxIter(unittest.TestCase):
    """--max-iter 1e9 (the most it takes), meaning "until it converges": the fit allocated the whole history up
    front, 40 GB, and failed with 'out of memory'. Its results are those of the default --max-iter."""

    def test_huge_max_iter(self):
        X = blobs(3000, 3, 5, seed=6)
        p = write("max-iter.h5", X, chunks=(700, 3))
        want, Cw, labw = fit(self, p, "-k", 5, "--tol", 0)
        got, Cg, labg = fit(self, p, "-k", 5, "--tol", 0, "--max-iter", "1e9")
        self.assertTrue(got["converged"])
        untimed = lambda js: [{k: v for k, v in h.items() if k != "seconds"} for h in js["history"]]
        self.assertEqual((got["n_iter"], got["inertia"], untimed(got)), (want["n_iter"], want["inertia"], untimed(want)))
        self.assertEqual(len(got["history"]), got["n_iter"])
        np.testing.assert_array_equal(Cg, Cw)
        np.testing.assert_array_equal(labg, labw)
        T.assert_nearest_centres(self, X, Cg, labg, got["inertia"], "fit")


class HugeK(unittest.TestCase):
    """-k past int32 (labels are int32) is bad usage, refused before any input is opened, as k < 1 is: it was
    exit 1 with 'kmeans: n_clusters must be from 1 to 2147483647', not naming the option."""

    def test_refused_as_usage(self):
        for k in ("2147483648", "1e10", "9223372036854775808"):
            with self.subTest(k=k):
                status, _, err = T.run(["kmeans-ooc", "fit", tmp("no-such-input.h5"), "-k", k])
                T.assert_one_error(self, "kmeans-ooc", status, err, 2, "--n-clusters", k)
        status, _, err = T.run(["kmeans-ooc", "fit", tmp("no-such-input.h5"), "-k", "2147483647"])
        T.assert_one_error(self, "kmeans-ooc", status, err, 1, "no-such-input.h5")


class WideRows(unittest.TestCase):
    """Rows of over a million features: Lloyd's pass copied a far row onto its thread's stack (8 bytes a
    feature), past OpenMP's default stack, and the fit died by SIGSEGV with its temporaries left."""

    def test_million_features(self):
        X = np.random.default_rng(11).normal(size=(4, 1_100_000))
        X[2:] += 3
        p = write("wide.h5", X)
        js, C, lab = fit(self, p, "-k", 2, "--init", "k-means++")
        T.assert_nearest_centres(self, X, C, lab, js["inertia"], "fit")
        self.assertEqual((lab[0], lab[2]), (lab[1], lab[3]))
        self.assertNotEqual(lab[0], lab[2])

class NearTheLargestDouble(unittest.TestCase):
    """Values whose squared deviations pass the largest double while what is asked of them does not."""

    def test_statistics(self):
        # Variances summed as squared deviations overflowed though the variance is a double (rows at ±6e153:
        # 3.6e307), and means through differences that overflow (±1e308: -inf, printed as null).
        X = np.repeat(np.array([[-6e153], [6e153]]), 50, axis=0)
        cols = json.loads(ok(self, ["chunkinfo", write("var.h5", X), "--stats", "--json", "-q"]))["columns"]
        self.assertAlmostEqual(cols[0]["var"] / ((X / 2.0 ** 600).var() * 2.0 ** 600 * 2.0 ** 600), 1, places=12)
        for values in ([1e308, -1e308], [9e307, -9e307], [1.5e308, -1e308, 1e308]):
            with self.subTest(values=values):
                col = np.array(values).reshape(-1, 1)
                cols = json.loads(ok(self, ["chunkinfo", write("mean.h5", col), "--stats", "--json", "-q"]))["columns"]
                self.assertAlmostEqual(cols[0]["mean"], (col / 4).mean() * 4, delta=1e-15 * 1e308)
                self.assertIsNone(cols[0]["var"])  # inf: past the largest double, as numpy's

    def test_verdict_depends_on_the_data_alone(self):
        # Rows at ±6e153: every squared distance is a double, their sum over a cluster may not be. Whether the
        # fit succeeded depended on its start: seed 0 put both centres in one group, the inertia of that
        # iteration overflowed, and so did the tolerance (tol x the variance, itself overflowed): refused.
        X = np.repeat(np.array([[-6e153], [6e153]]), 50, axis=0)
        p = write("pm6e153.h5", X)
        for seed in range(4):
            with self.subTest(seed=seed):
                js, C, lab = fit(self, p, "-k", 2, "--init", "random", "--seed", seed)
                self.assertEqual((js["inertia"], sorted(js["cluster_sizes"])), (0.0, [50, 50]))
        # Three features spanning 1.2e154 each: rows 2e154 apart, whose squared distance overflows: refused
        # whatever the start (k-means++ succeeded, k-means|| and random not).
        Y = np.zeros((10, 3))
        Y[5:] = 1.2e154
        p = write("three-wide.h5", Y)
        for init in ("k-means++", "k-means||", "random"):
            with self.subTest(init=init):
                status, _, err = T.run(["kmeans-ooc", "fit", p, "-k", 2, "--init", init])
                T.assert_one_error(self, "kmeans-ooc", status, err, 1, "three-wide.h5", "overflow")

    def test_inertia_past_the_largest_double(self):
        # Each row's squared distance to its centre is a double (1e308), their sum is not: the labels are
        # certain, the inertia inf (scikit-learn's score: -inf), and a warning says so. predict refused the
        # data.
        model, out = tmp("centre-1e154.h5"), tmp("centre-1e154-labels.h5")
        with h5py.File(model, "w") as f:
            f["cluster_centers"] = np.array([[1e154]])
        status, stdout, err = T.run(["kmeans-ooc", "predict", model, write("zeros.h5", np.zeros((2, 1))), "--labels",
                                     out, "--json", "-q"])
        self.assertEqual(status, 0, err)
        self.assertEqual(len(T.error_lines(err)), 1, err)
        self.assertIn("warning: the inertia", err)
        self.assertIsNone(json.loads(stdout)["inertia"])  # inf in JSON
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["labels"][...], [0, 0])


class Float32RowsFloat64Centres(unittest.TestCase):
    """predict of float32 data with a model from float64 data: the centres were rounded to float32, and those
    closer than its resolution became one (the lower index took all their rows)."""

    def test_nearest_float64_centre(self):
        rng = np.random.default_rng(12)
        for k, d in ((6, 3), (40, 64)):  # the direct kernel and the GEMM one
            with self.subTest(k=k, d=d):
                base = rng.uniform(-5, 5, size=(k // 2, d))
                C = np.concatenate([base, base + 1e-6 * rng.uniform(-1, 1, size=base.shape)])
                X = (C[rng.integers(0, k, 4000)] + 1e-6 * rng.normal(size=(4000, d))).astype(np.float32)
                model = tmp(f"f64-centres-{k}.h5")
                with h5py.File(model, "w") as f:
                    f["cluster_centers"] = C
                js, labels = predict(self, model, write(f"f32-rows-{k}.h5", X))
                T.assert_nearest_centres(self, X, C, labels, js["inertia"], "predict")
                self.assertGreater(len(np.unique(labels)), k // 2)  # both of a pair take rows


if __name__ == "__main__":
    unittest.main()
