"""kmeans-ooc against independent oracles: scikit-learn's KMeans and adjusted Rand index for quality, numpy for
the exact labels, inertia and sizes of the saved model, a numpy k-means|| without weights for the
initialisation, and the tool's own runs under other threads, memory limits, layouts and inputs for bitwise
determinism."""
import json
import math
import os
import re
import tempfile
import unittest

import ooc_testlib as T

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

h5py = T.h5py()

ZSTD = 32015

# Separated blobs: 200k x 10, 8 centres, cluster_std 1, 50000-row chunks (4 MB in float64, 4 chunks).
BLOBS = ["-n", "200k", "-d", 10, "-c", 8, "--chunk-rows", 50000]
# 300k x 10 in 50000-row chunks: 24 MB raw, 3.8 MiB chunks. 2G caches it all; the smallest limit the tool
# accepts (smallest_limit()) leaves no room for a cached chunk, so every pass streams.
BIG = ["-n", "300k", "-d", 10, "-c", 8, "--chunk-rows", 50000, "--seed", 7]
BIG_BLOBS = "blobs:samples=300000,features=10,centers=8,seed=7,chunk_rows=50000"
LARGE_LIMIT = "2G"

TMP = None
CACHE = {}


def setUpModule():
    global TMP
    TMP = tempfile.TemporaryDirectory()


def tearDownModule():
    TMP.cleanup()


def path(name):
    return os.path.join(TMP.name, name)


def gen(name, *args):
    """A chunkgen file made once per module run."""
    p = path(name)
    if p not in CACHE:
        status, out, err = T.chunkgen("-q", *args, p)
        if status != 0:
            raise RuntimeError(f"chunkgen {args} failed: {err}")
        CACHE[p] = True
    return p


def blobs(seed, dtype="float64"):
    return gen(f"blobs-{seed}-{dtype}.h5", *BLOBS, "--seed", seed, "--dtype", dtype)


def big():
    return gen("big.h5", *BIG)


def read(p, name="X"):
    with T.open_h5(p) as f:
        return f[name][...]


def fit(tc, inp, *args, model=None, labels=None):
    """kmeans-ooc fit --json [-o model] [--labels labels] ARGS; returns the parsed JSON."""
    argv = ["kmeans-ooc", "fit", inp, "--json", "-q", *args]
    if model:
        argv += ["-o", model, "-f"]
    if labels:
        argv += ["--labels", labels, "-f"]
    status, out, err = T.run(argv)
    tc.assertEqual(status, 0, f"{' '.join(map(str, argv))}:\n{err}")
    tc.assertEqual(T.error_lines(err), [], "a successful --json run printed on stderr")
    return json.loads(out)


def smallest_limit(tc, inp, *args):
    """The smallest --memory-limit (whole MiB) a fit of inp with args accepts: the tool's refusal of 1M says
    what it needs ('needs N MiB'); one MiB more than that holds less than a 3.8 MiB chunk of cache."""
    status, out, err = T.run(["kmeans-ooc", "fit", inp, "-q", "--memory-limit", "1M", *args])
    line = T.assert_one_error(tc, "kmeans-ooc", status, err, 1, "memory limit")
    m = re.search(r"needs (\d+) MiB", line)
    tc.assertIsNotNone(m, f"the refusal does not say what it needs: {line}")
    return f"{int(m.group(1)) + 1}M"


def load_model(p):
    with T.open_h5(p) as f:
        attrs = {k: f.attrs[k] for k in f.attrs}
        return f["cluster_centers"][...], f["cluster_sizes"][...], attrs


def sqdist(X, C):
    """n x k squared distances in float64, one centre at a time (no n x k x d temporary)."""
    X = np.asarray(X, dtype=np.float64)
    return np.stack([((X - c) ** 2).sum(axis=1) for c in np.asarray(C, dtype=np.float64)], axis=1)


def working_centres(C, dtype):
    """The centres as the tool measures distances to them: in the data's precision (float32 data is measured
    against float32-rounded centres; a fit to float32 data saves those)."""
    if np.dtype(dtype) == np.float32:
        return C.astype(np.float32).astype(np.float64)
    return C


def check_exact(tc, X, C, labels, inertia, sizes):
    """labels: numpy's nearest centre of C (near ties excepted and counted), inertia numpy's
    (T.assert_nearest_centres()), labels int32, sizes = bincount. Returns the number of near ties."""
    tc.assertEqual(labels.dtype, np.int32)
    ties = T.assert_nearest_centres(tc, X, C, labels, inertia)
    np.testing.assert_array_equal(sizes, np.bincount(labels, minlength=len(C)))
    return ties


def sklearn_inertia(X, k):
    return KMeans(n_clusters=k, n_init=1, algorithm="lloyd", random_state=0).fit(X).inertia_


class Quality(unittest.TestCase):
    """Separated blobs: the truth recovered, as good as scikit-learn, and every output exact."""

    def check_file(self, seed, dtype, *args, name="q"):
        inp = blobs(seed, dtype)
        model, labels = path(f"{name}-{seed}-{dtype}-m.h5"), path(f"{name}-{seed}-{dtype}-l.h5")
        js = fit(self, inp, "-k", 8, *args, model=model, labels=labels)
        X, y = read(inp), read(inp, "y")
        C, sizes, attrs = load_model(model)
        lab = read(labels, "labels")
        self.assertEqual(C.shape, (8, 10))
        self.assertEqual(C.dtype, np.float64)
        self.assertEqual(sizes.dtype, np.int64)
        self.assertEqual(lab.shape, (len(X),))
        ari = adjusted_rand_score(y, lab)
        self.assertGreaterEqual(ari, 0.99, f"ARI vs the true blobs, seed {seed} {dtype} {args}")
        if dtype == "float32":
            # The centres saved are those the rows were measured against (float32, as scikit-learn keeps them
            # for float32 data), so that labels and inertia belong to the model as saved.
            np.testing.assert_array_equal(C, C.astype(np.float32).astype(np.float64))
        ties = check_exact(self, X, C, lab, float(attrs["inertia"]), sizes)
        self.assertEqual(ties, 0, "near ties on separated blobs")
        # The JSON, the model file and the attributes agree.
        self.assertEqual(js["inertia"], float(attrs["inertia"]))
        self.assertEqual(js["n_iter"], int(attrs["n_iter"]))
        self.assertIsInstance(attrs["converged"], np.bool_)  # h5py's boolean: an 8-bit FALSE/TRUE enum
        self.assertEqual(js["converged"], attrs["converged"])
        self.assertEqual(js["n_samples"], len(X))
        self.assertEqual(js["n_features"], 10)
        self.assertEqual(js["n_clusters"], 8)
        self.assertEqual(js["cluster_sizes"], sizes.tolist())
        np.testing.assert_array_equal(np.array(js["cluster_centers"]), C)
        for key, value in (("n_samples", len(X)), ("n_features", 10), ("n_clusters", 8), ("seed", 0)):
            self.assertEqual(int(attrs[key]), value, key)
        self.assertEqual(len(js["history"]), js["n_iter"])
        # Labels: int32, chunked like the input's chunks, zstd.
        with T.open_h5(labels) as f:
            ds = f["labels"]
            self.assertEqual(ds.chunks, (50000,))
            self.assertIn(ZSTD, [flt[0] for flt in T.filters(ds)])
        return js, X, C, lab, attrs

    def test_float64_blobs_match_truth_and_sklearn(self):
        for seed in (1, 2):
            with self.subTest(seed=seed):
                js, X, C, lab, attrs = self.check_file(seed, "float64")
                ref = sklearn_inertia(X, 8)
                self.assertLessEqual(js["inertia"], 1.01 * ref, f"inertia vs scikit-learn {ref}")
                self.assertTrue(js["converged"])

    def test_float32_blobs_match_truth_and_sklearn(self):
        js, X, C, lab, attrs = self.check_file(3, "float32")
        ref = sklearn_inertia(X, 8)
        self.assertLessEqual(js["inertia"], 1.01 * ref, f"inertia vs scikit-learn {ref}")

    def best_of_seeds(self, init, seeds, c=8):
        """The first of `seeds` whose --init INIT run recovers the blobs (scikit-learn's n_init, by hand): every
        run must be exact; at least one must reach ARI 0.99 and scikit-learn's inertia."""
        inp = gen(f"sep-{c}.h5", "-n", "100k", "-d", 6, "-c", c, "--chunk-rows", 25000, "--seed", 11)
        X, y = read(inp), read(inp, "y")
        ref = sklearn_inertia(X, c)
        tried = []
        for seed in seeds:
            model, labels = path(f"init-{init}-m.h5"), path(f"init-{init}-l.h5")
            js = fit(self, inp, "-k", c, "--init", init, "--seed", seed, model=model, labels=labels)
            C, sizes, attrs = load_model(model)
            lab = read(labels, "labels")
            check_exact(self, X, C, lab, float(attrs["inertia"]), sizes)
            self.assertEqual(attrs["init"].decode() if isinstance(attrs["init"], bytes) else attrs["init"], init)
            ari = adjusted_rand_score(y, lab)
            tried.append((seed, ari, js["inertia"]))
            if ari >= 0.99 and js["inertia"] <= 1.01 * ref:
                return
        self.fail(f"--init {init}: no seed recovered the blobs (sklearn inertia {ref}): {tried}")

    def test_kmeans_plusplus_recovers_blobs(self):
        # k-means++ with k = the number of blobs may still miss one: best of up to 8 seeds.
        self.best_of_seeds("k-means++", range(8))

    def test_kmeans_plusplus_is_greedy_as_sklearn(self):
        """k-means++ is scikit-learn's greedy one (2 + ln k trials a centre, the best kept): over seeds, its
        fits end as good as scikit-learn's KMeans(init="k-means++", n_init=1). Plain k-means++ (one draw a
        centre, as ooc's was) averaged 1.17x scikit-learn's inertia on these 15 blobs."""
        rng = np.random.default_rng(11)
        X = rng.normal(size=(15, 10))[rng.integers(0, 15, 20000)] * 3 + rng.normal(size=(20000, 10))
        inp = path("greedy.h5")
        with T.open_h5(inp, "w") as f:
            f.create_dataset("X", data=X, chunks=(2000, 10))
        seeds = range(16)
        ours = [fit(self, inp, "-k", 15, "--init", "k-means++", "--seed", s)["inertia"] for s in seeds]
        theirs = [KMeans(15, init="k-means++", n_init=1, algorithm="lloyd", random_state=s).fit(X).inertia_
                  for s in seeds]
        self.assertLessEqual(np.mean(ours), 1.06 * np.mean(theirs), (ours, theirs))

    def test_random_recovers_blobs(self):
        self.best_of_seeds("random", range(10), c=4)

    def test_default_init_every_seed(self):
        # k-means|| reclustered by weight needs no luck: every seed recovers the blobs.
        inp = gen("sep-8.h5", "-n", "100k", "-d", 6, "-c", 8, "--chunk-rows", 25000, "--seed", 11)
        X, y = read(inp), read(inp, "y")
        ref = sklearn_inertia(X, 8)
        for seed in range(4):
            with self.subTest(seed=seed):
                labels = path("every-l.h5")
                js = fit(self, inp, "-k", 8, "--seed", seed, labels=labels)
                self.assertGreaterEqual(adjusted_rand_score(y, read(labels, "labels")), 0.99)
                self.assertLessEqual(js["inertia"], 1.01 * ref)


def numpy_kmeans_parallel_unweighted(X, k, seed, L=2.0, rounds=5):
    """k-means|| (Bahmani et al.) as in ooc_kmeans.h but reclustering the candidates with uniform weights:
    scikit-learn's KMeans on the candidates alone. Returns (inertia of the initial centres, candidates)."""
    rng = np.random.default_rng(seed)
    cand = [X[rng.integers(len(X))]]
    dmin = ((X - cand[0]) ** 2).sum(axis=1)
    for _ in range(rounds):
        phi = dmin.sum()
        drawn = X[rng.random(len(X)) < L * k * dmin / phi]
        for c in drawn:
            dmin = np.minimum(dmin, ((X - c) ** 2).sum(axis=1))
        cand.extend(drawn)
    cand = np.array(cand)
    centres = KMeans(n_clusters=k, n_init=1, algorithm="lloyd", random_state=seed).fit(cand).cluster_centers_
    return sqdist(X, centres).min(axis=1).sum(), len(cand)


class Initialisation(unittest.TestCase):
    def test_weighted_kmeans_parallel_beats_unweighted_on_overlapping_blobs(self):
        # 50 overlapping blobs (std 3 in a box of 20) in 5-D, 4 chunks: hard enough for the weights to matter.
        inp = gen("hard.h5", "-n", "100k", "-d", 5, "-c", 50, "--cluster-std", 3, "--center-box=-10,10",
                  "--chunk-rows", 25000, "--seed", 5)
        X = read(inp)
        k, seeds = 50, range(5)
        ooc, ref, ooc_cand, ref_cand = [], [], [], []
        for seed in seeds:
            js = fit(self, inp, "-k", k, "--max-iter", 1, "--seed", seed)
            self.assertEqual(js["history"][0]["iter"], 1)
            ooc.append(js["history"][0]["inertia"])  # the inertia of the initial centres
            ooc_cand.append(js["n_candidates"])
            inertia, m = numpy_kmeans_parallel_unweighted(X, k, seed)
            ref.append(inertia)
            ref_cand.append(m)
        self.assertLessEqual(np.median(ooc), np.median(ref),
                             f"ooc k-means|| {ooc} vs unweighted {ref}")
        # About l = L*k = 100 candidates a round from the whole array (not from one chunk): as many as the
        # reference draws, within sampling noise.
        self.assertGreater(np.median(ooc_cand), 0.8 * np.median(ref_cand), f"{ooc_cand} vs {ref_cand}")
        self.assertLess(np.median(ooc_cand), 1.2 * np.median(ref_cand), f"{ooc_cand} vs {ref_cand}")

    def test_candidates_do_not_depend_on_chunking(self):
        # The same rows stored in one chunk and in 20: draws keyed by (seed, round, row) pick the same rows.
        inp = gen("hard.h5", "-n", "100k", "-d", 5, "-c", 50, "--cluster-std", 3, "--center-box=-10,10",
                  "--chunk-rows", 25000, "--seed", 5)
        X = read(inp)
        one, many = path("one-chunk.h5"), path("many-chunks.h5")
        with h5py.File(one, "w") as f:
            f.create_dataset("X", data=X, chunks=X.shape)
        with h5py.File(many, "w") as f:
            f.create_dataset("X", data=X, chunks=(5000, 5))
        a = fit(self, one, "-k", 50, "--max-iter", 1)
        b = fit(self, many, "-k", 50, "--max-iter", 1)
        self.assertEqual(a["n_candidates"], b["n_candidates"])
        self.assertAlmostEqual(a["history"][0]["inertia"], b["history"][0]["inertia"],
                               delta=1e-9 * a["history"][0]["inertia"])


class Determinism(unittest.TestCase):
    """Bitwise-identical centres, inertia, n_iter and labels for any threads, memory limit, and for blobs:
    against the chunkgen file holding the same values."""

    def run_variant(self, inp, name, *args):
        model, labels = path(f"det-{name}-m.h5"), path(f"det-{name}-l.h5")
        js = fit(self, inp, *args, model=model, labels=labels)
        C, sizes, attrs = load_model(model)
        return {"centres": C.tobytes(), "sizes": sizes.tolist(), "inertia": float(attrs["inertia"]),
                "n_iter": int(attrs["n_iter"]), "json_inertia": js["inertia"],
                "labels": read(labels, "labels").tobytes()}, js

    def assert_same(self, a, b, what):
        for key in a:
            self.assertEqual(a[key], b[key], f"{key} differs: {what}")

    def test_threads(self):
        inp = big()
        base, _ = self.run_variant(inp, "t1", "-t", 1, "--memory-limit", LARGE_LIMIT)
        for t in (2, 3):
            other, _ = self.run_variant(inp, f"t{t}", "-t", t, "--memory-limit", LARGE_LIMIT)
            self.assert_same(base, other, f"-t 1 vs -t {t}")

    def test_memory_limit_cached_vs_streaming(self):
        inp = big()
        cached, js_c = self.run_variant(inp, "cached", "-t", 2, "--memory-limit", LARGE_LIMIT)
        small = smallest_limit(self, inp, "-t", 2)
        streamed, js_s = self.run_variant(inp, "streamed", "-t", 2, "--memory-limit", small)
        self.assert_same(cached, streamed, f"--memory-limit {LARGE_LIMIT} vs {small}")
        self.assertGreater(js_s["bytes_read"], js_c["bytes_read"], "the small limit did not stream")

    def test_per_row_state_in_a_file(self):
        """k-means||'s 8 bytes a row (8 MB here) beyond the smallest limit go to a temporary file, same bits."""
        inp = "blobs:samples=1M,features=2,centers=5,seed=3,chunk_rows=50000"
        in_memory, js_m = self.run_variant(inp, "state-mem", "-t", 2, "-k", 5, "--memory-limit", LARGE_LIMIT)
        small = smallest_limit(self, inp, "-t", 2, "-k", 5)
        spilled, js_f = self.run_variant(inp, "state-file", "-t", 2, "-k", 5, "--memory-limit", small)
        self.assertEqual((js_m["per_row_state"], js_f["per_row_state"]), ("memory", "file"))
        self.assert_same(in_memory, spilled, f"--memory-limit {LARGE_LIMIT} vs {small}")

    def test_blobs_input_equals_chunkgen_file(self):
        from_file, _ = self.run_variant(big(), "file", "-t", 2)
        lazy, js = self.run_variant(BIG_BLOBS, "lazy", "-t", 2)
        self.assert_same(from_file, lazy, "blobs: vs chunkgen file")
        self.assertEqual(js["bytes_read"], 0, "blobs: reads no storage")

    def test_other_inits_across_threads(self):
        inp = blobs(1)
        for init in ("k-means++", "random"):
            base, _ = self.run_variant(inp, f"{init}-1", "--init", init, "-t", 1)
            other, _ = self.run_variant(inp, f"{init}-2", "--init", init, "-t", 2)
            self.assert_same(base, other, f"--init {init}: -t 1 vs -t 2")


class Layouts(unittest.TestCase):
    """Inputs written by h5py in other types, byte orders, layouts and filters."""

    @classmethod
    def setUpClass(cls):
        src = gen("layout-src.h5", "-n", 30000, "-d", 3, "-c", 4, "--chunk-rows", 30000, "--seed", 21)
        cls.X, cls.y = read(src), read(src, "y")

    def write(self, name, data, **kw):
        p = path(name)
        with h5py.File(p, "w") as f:
            f.create_dataset("X", data=data, **kw)
        return p

    def check(self, p, data, working_dtype):
        model, labels = p + ".model.h5", p + ".labels.h5"
        js = fit(self, p, "-k", 4, model=model, labels=labels)
        C, sizes, attrs = load_model(model)
        lab = read(labels, "labels")
        X64 = data.astype(np.float64)
        # float32 data (big-endian too): the centres saved are float32 values, those the rows were measured against
        np.testing.assert_array_equal(C, working_centres(C, working_dtype))
        self.assertEqual(check_exact(self, X64, C, lab, float(attrs["inertia"]), sizes), 0)
        self.assertGreaterEqual(adjusted_rand_score(self.y, lab), 0.99)
        status, out, err = T.run(["chunkinfo", p, "--json"])
        self.assertEqual(status, 0, err)
        info = json.loads(out)
        with T.open_h5(labels) as f:
            ds = f["labels"]
            self.assertEqual(ds.chunks, (info["processing_chunk_rows"],), "labels chunked like the processing")
            self.assertEqual(ds.id.get_num_chunks(), info["processing_chunks"])
        return js

    def test_contiguous_float64(self):
        self.check(self.write("contig.h5", self.X), self.X, np.float64)

    def test_odd_chunks_gzip(self):
        self.check(self.write("odd.h5", self.X, chunks=(777, 3), compression="gzip", shuffle=True), self.X,
                   np.float64)

    def test_int16(self):
        data = np.round(self.X * 100).astype(np.int16)
        self.check(self.write("int16.h5", data, chunks=(4096, 3)), data, np.float64)

    def test_unfiltered_chunks_across_the_columns(self):
        # h5py's chunks for a resizable dataset split the columns ((256, 5) for 20 of them): these are read a
        # band of chunk columns at a time (HDF5 read each row of each chunk apart: 15-140x slower than h5py),
        # the last band narrower here (3 columns in chunks of 2); float32, and big-endian int16 converted.
        self.check(self.write("split64.h5", self.X, chunks=(256, 2)), self.X, np.float64)
        self.check(self.write("split32.h5", self.X.astype(np.float32), chunks=(1000, 1)), self.X.astype(np.float32),
                   np.float32)
        data = np.round(self.X * 100).astype(">i2")
        self.check(self.write("split16.h5", data, chunks=(333, 2), maxshape=(None, 3)), data, np.float64)

    def test_big_endian_float64(self):
        data = self.X.astype(">f8")
        self.check(self.write("be64.h5", data, chunks=(5000, 3), fletcher32=True), data, np.float64)

    def test_big_endian_float32(self):
        data = self.X.astype(">f4")
        self.check(self.write("be32.h5", data), data, np.float32)

    def test_big_endian_int32(self):
        data = np.round(self.X * 1000).astype(">i4")
        self.check(self.write("bei4.h5", data, chunks=(3000, 1), compression="gzip"), data, np.float64)


class EmptyClusters(unittest.TestCase):
    """A centre that attracts no row is moved to the row farthest from its centre (scikit-learn's rule)."""

    def test_relocated_to_far_rows(self):
        # Three groups of 100 identical rows: random init often picks two rows of one group, two identical
        # centres; ties go to the lower index, so the higher one is empty in the first iteration. Also 1e9
        # away from 0, where a row "at a centre but for rounding" must still be judged by the groups' spread,
        # not by the size of the values (else no row could take an empty cluster).
        X = np.repeat(np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 30.0]]), 100, axis=0)
        relocated = 0
        for seed, offset in ((s, o) for o in (0.0, 1e9) for s in range(40 if o == 0 else 12)):
            p = path(f"three-groups-{offset:g}.h5")
            if not os.path.exists(p):
                with T.h5py().File(p, "w") as f:
                    f.create_dataset("X", data=X + offset, chunks=(64, 2))
            js = fit(self, p, "-k", "3", "--init", "random", "--seed", str(seed))
            first = js["history"][0]
            # The far rows kept may all be one group's: one empty cluster takes it, the next waits an iteration.
            self.assertLessEqual(first["relocated"], first["empty_clusters"])
            relocated += first["relocated"] > 0
            # Whatever the start, three groups end as three clusters of 100, with no inertia left.
            self.assertEqual(sorted(js["cluster_sizes"]), [100, 100, 100],
                             f"offset {offset}, seed {seed}: {js['cluster_sizes']}")
            self.assertEqual(js["inertia"], 0.0, f"offset {offset}, seed {seed}")
        self.assertGreater(relocated, 0, "no seed produced an empty cluster: the test exercised nothing")

    def test_relocation_step_is_sklearns(self):
        # The row an empty cluster takes leaves its old cluster, whose centre is the mean of the rest, as in
        # scikit-learn (_relocate_empty_clusters_dense); ooc kept it in both means. Heavy-tailed data and
        # random starts empty a cluster in a later iteration i: one step of scikit-learn's Lloyd from ooc's
        # centres after i - 1 iterations must give ooc's after i (unless a far row is alone in its cluster).
        steps = 0
        for data_seed in (5, 9):
            rng = np.random.default_rng(data_seed)
            X = rng.standard_cauchy((int(rng.integers(20, 80)), int(rng.integers(1, 4))))
            p = path(f"cauchy-{data_seed}.h5")
            with T.h5py().File(p, "w") as f:
                f["X"] = X
            for seed in range(40):
                args = ("-k", 10, "--init", "random", "--seed", seed, "--tol", 0)
                js = fit(self, p, *args)
                for it in (h["iter"] for h in js["history"] if h["relocated"] and h["iter"] >= 2):
                    before, after = (self.centres_after(p, m, *args) for m in (it - 1, it))
                    D = sqdist(X, before)
                    labels = D.argmin(axis=1)
                    counts = np.bincount(labels, minlength=10)
                    far = np.argsort(-D[np.arange(len(X)), labels], kind="stable")[:np.sum(counts == 0)]
                    if np.any(counts[labels[far]] < 2):
                        continue  # scikit-learn would empty a cluster to fill another; ooc takes the next row
                    ref = KMeans(10, init=before, n_init=1, max_iter=1, tol=0, algorithm="lloyd").fit(X)
                    np.testing.assert_allclose(after, ref.cluster_centers_, rtol=1e-12, atol=1e-12,
                                               err_msg=f"data {data_seed}, seed {seed}, iteration {it}")
                    steps += 1
        self.assertGreater(steps, 0, "no fit emptied a cluster after its first iteration: nothing was tested")

    def centres_after(self, inp, iterations, *args):
        """The centres of a fit stopped after `iterations` (a cluster may be empty then: a warning says so)."""
        model = path("step.h5")
        status, _, err = T.run(["kmeans-ooc", "fit", inp, "-q", "-o", model, "-f", "--max-iter", iterations, *args])
        self.assertEqual(status, 0, err)
        return load_model(model)[0]


class FarFromOrigin(unittest.TestCase):
    """Data far from 0 relative to its spread (timestamps, IDs, a big int64 offset): scikit-learn centres it
    before Lloyd; ooc's means are sums about each cluster's centre, and must lose no more."""

    def test_offset_blobs(self):
        rng = np.random.default_rng(5)
        C = np.array([[0.0, 0, 0], [20, 0, 0], [0, 20, 0], [0, 0, 20]])
        y = rng.integers(0, 4, 20000)
        X0 = C[y] + rng.normal(0, 1, (20000, 3))
        # The blobs lie 20 standard deviations apart: the true grouping is the optimum, its inertia taken
        # on the values about 0 (exact) is the oracle, and the offset values are within 2^-53 of 1e14 apart.
        truth = sum(((X0[y == j] - X0[y == j].mean(axis=0)) ** 2).sum() for j in range(4))
        for offset in (1e13, 1e14):
            with self.subTest(offset=offset):
                X = X0 + offset
                p = path(f"offset-{offset:g}.h5")
                with T.h5py().File(p, "w") as f:
                    f["X"] = X
                labels = path(f"offset-{offset:g}-labels.h5")
                js = fit(self, p, "-k", 4, labels=labels)
                self.assertTrue(js["converged"])
                self.assertEqual(adjusted_rand_score(y, read(labels, "labels")), 1.0)
                # what the rounding of the offset values themselves allows (ulp(1e14) = 1/64): 1e-3 relative
                self.assertLess(abs(js["inertia"] - truth), 1e-3 * truth, (js["inertia"], truth))

    def test_tol_zero_converges(self):
        # --tol 0 stops when nothing moves, as scikit-learn's tol=0 does once the labels stop changing: a
        # centre must be a function of its rows alone (sums about the current centre made it jitter by an
        # ulp for ever: 300 iterations, shift 1e-33).
        rng = np.random.default_rng(7)
        X = np.array([[0.0, 0, 0], [6, 0, 0], [0, 6, 0]])[rng.integers(0, 3, 30000)] + rng.normal(size=(30000, 3))
        p = path("tol0.h5")
        with T.h5py().File(p, "w") as f:
            f.create_dataset("X", data=X, chunks=(4000, 3))
        ref = KMeans(3, n_init=1, tol=0, random_state=0).fit(X)
        js = fit(self, p, "-k", 3, "--tol", 0, "-t", 1)
        self.assertTrue(js["converged"], js["history"][-3:])
        self.assertEqual(js["history"][-1]["shift"], 0.0)
        self.assertLess(js["n_iter"], 30, (js["n_iter"], ref.n_iter_))

    def test_distinct_values_a_few_ulps_apart(self):
        # Five distinct values 4 ulps apart at 1.7e15 (microsecond timestamps), and float32 rows 1 ulp apart:
        # five clusters, no inertia, whatever the start (distinct rows were taken for rows at a centre, so
        # empty clusters stayed empty: inertia 400).
        ts = (1.7e15 + np.arange(4000) % 5).reshape(-1, 1)
        f32 = np.array([[np.float32(1000.0) + np.float32(2 ** -14) * (i % 5), 1.0] for i in range(4000)],
                       dtype=np.float32)  # the float32 spacing at 1000 is 2^-14
        self.assertEqual(len(np.unique(f32, axis=0)), 5)
        for name, X in (("ts.h5", ts), ("ulp32.h5", f32)):
            p = path(name)
            with T.h5py().File(p, "w") as f:
                f["X"] = X
            for seed in range(6):
                with self.subTest(data=name, seed=seed):
                    js = fit(self, p, "-k", 5, "--init", "random", "--seed", seed)
                    self.assertEqual((js["inertia"], sorted(js["cluster_sizes"])), (0.0, [800] * 5))

    def test_outliers_past_the_float_range(self):
        # Two rows 1e20 away from rows about 1 apart: their squared distances pass the float range of the
        # initialisations' per-row state (they saturated to inf, phi with them, and neither was ever drawn:
        # inertia 2e40). Each must become its own centre, as scikit-learn's k-means++ makes them.
        X = np.random.default_rng(4).normal(size=(10000, 3))
        X[5, 0], X[6, 0] = 1e20, -1e20
        p = path("outliers.h5")
        with T.h5py().File(p, "w") as f:
            f["X"] = X
        ref = KMeans(3, n_init=3, random_state=0).fit(X).inertia_
        for init in ("k-means||", "k-means++"):
            with self.subTest(init=init):
                js = fit(self, p, "-k", 3, "--init", init)
                self.assertLess(js["inertia"], ref * (1 + 1e-9), (js["inertia"], ref))
                self.assertEqual(sorted(js["cluster_sizes"])[:2], [1, 1])

    def test_int64_near_2_to_the_60(self):
        # Integers near 2^60, spread over 16000 (doubles near 2^60 are 256 apart): as scikit-learn on the same
        # values converted to float64, within 1%. Its inertia_ belongs to centres taken about the mean, which
        # float64 cannot hold near 2^60: the oracle is the inertia of the centres it returns.
        rng = np.random.default_rng(6)
        Y = (rng.integers(0, 4, 3000)[:, None] * 4000 + rng.integers(0, 1000, (3000, 2))).astype("<i8") + 2 ** 60
        p = path("int64-huge.h5")
        with T.h5py().File(p, "w") as f:
            f["X"] = Y
        js = fit(self, p, "-k", 4)
        Xf = Y.astype(np.float64)
        km = KMeans(4, n_init=10, random_state=0).fit(Xf)
        ref = sqdist(Xf, km.cluster_centers_).min(axis=1).sum()
        self.assertLess(js["inertia"], 1.01 * ref, (js["inertia"], ref))


class Magnitude(unittest.TestCase):
    def test_a_power_of_two_scales_the_fit_exactly(self):
        # Powers of two scale every step exactly: data times 2^e must give the centres times 2^e, bit for
        # bit, and the inertia times 2^2e, for every init. At 2^508 (values near 6.7e152) k-means||'s
        # reclustering of its candidates overflowed (weights times squared distances: every trial's
        # potential inf), and its inertia was 7 times the scaled one.
        rng = np.random.default_rng(0)
        C = rng.uniform(-10, 10, (4, 3))
        X = (C[rng.integers(0, 4, 2000)] + rng.normal(size=(2000, 3))) / 16
        for init in ("k-means||", "k-means++", "random"):
            got = {}
            for e in (0, 508, -480):
                p, model = path(f"scaled{e}.h5"), path(f"scaled{e}-m.h5")
                with T.h5py().File(p, "w") as f:
                    f["X"] = np.ldexp(X, e)
                js = fit(self, p, "-k", 4, "--init", init, model=model)
                got[e] = (load_model(model)[0], js["inertia"], js["n_iter"])
            for e in (508, -480):
                with self.subTest(init=init, e=e):
                    np.testing.assert_array_equal(got[e][0], np.ldexp(got[0][0], e))
                    self.assertEqual(got[e][1:], (math.ldexp(got[0][1], 2 * e), got[0][2]))

    def test_float32_whose_squared_distances_are_subnormal(self):
        # float32 values near 1e-22: squared distances about 1e-44, subnormal floats, where float32 scores err
        # by a subnormal step rather than relatively. Every label must still be a nearest centre (numpy, in
        # float64, where these are normal), and predict must give fit's labels: 28 rows were not nearest, and
        # predict differed on 71, before the scores' allowance covered underflow.
        rng = np.random.default_rng(22)
        C = rng.uniform(-10, 10, (4, 3))
        y = rng.integers(0, 4, 3000)
        X = ((C[y] + rng.normal(size=(3000, 3))) / 20 * 1e-22).astype(np.float32)
        p, model, labels, again = path("tiny32.h5"), path("tiny32-m.h5"), path("tiny32-l.h5"), path("tiny32-p.h5")
        with T.h5py().File(p, "w") as f:
            f.create_dataset("X", data=X, chunks=(500, 3))
        for init in ("random", "k-means||"):
            with self.subTest(init=init):
                js = fit(self, p, "-k", 4, "--init", init, model=model, labels=labels)
                centres, sizes, _ = load_model(model)
                got = read(labels, "labels")
                check_exact(self, X, working_centres(centres, np.float32), got, js["inertia"], sizes)
                status, out, err = T.run(["kmeans-ooc", "predict", model, p, "--labels", again, "-f", "-q"])
                self.assertEqual(status, 0, err)
                np.testing.assert_array_equal(read(again, "labels"), got)


class Predict(unittest.TestCase):
    def test_predict_new_data_and_fit_data(self):
        inp = blobs(1)
        model, fit_labels = path("pred-m.h5"), path("pred-fit-l.h5")
        js = fit(self, inp, "-k", 8, model=model, labels=fit_labels)
        C, sizes, attrs = load_model(model)
        # The fit data: predict gives fit's labels exactly, and its inertia up to rounding (the fit's comes from
        # per-cluster sums, predict's adds the rows' distances one by one).
        again = path("pred-again-l.h5")
        status, out, err = T.run(["kmeans-ooc", "predict", model, inp, "--labels", again, "--json", "-q"])
        self.assertEqual(status, 0, err)
        pj = json.loads(out)
        self.assertEqual(read(again, "labels").tobytes(), read(fit_labels, "labels").tobytes())
        self.assertLessEqual(abs(pj["inertia"] - js["inertia"]), 1e-12 * js["inertia"])
        self.assertEqual((pj["n_samples"], pj["n_features"], pj["n_clusters"]), (200000, 10, 8))
        # New data (other rows, another layout and type): numpy's argmin against the model's centres (float32
        # rows against float64 centres float32 cannot hold: measured in double).
        X2 = read(blobs(2))[:50000].astype(np.float32)
        new = path("pred-new.h5")
        with h5py.File(new, "w") as f:
            f.create_dataset("data", data=X2, chunks=(7000, 10), compression="gzip")
        out_labels = path("pred-new-l.h5")
        status, out, err = T.run(["kmeans-ooc", "predict", model, new + ":/data", "--labels",
                                  out_labels + ":/lab", "--json", "-q"])
        self.assertEqual(status, 0, err)
        lab = read(out_labels, "lab")
        pj = json.loads(out)
        self.assertEqual(check_exact(self, X2, C, lab, pj["inertia"],
                                     np.bincount(lab, minlength=8)), 0)


class Passes(unittest.TestCase):
    """--json passes and bytes_read, as ooc_kmeans.h accounts them."""

    def extra(self, js):
        """1 final labelling pass unless the last Lloyd iteration moved nothing."""
        return 1 if js["history"][-1]["shift"] > 0 else 0

    def test_kmeans_parallel(self):
        inp = blobs(1)
        for rounds in (1, 3, 5):
            with self.subTest(init_max_iter=rounds):
                js = fit(self, inp, "--init-max-iter", rounds)
                base = js["n_iter"] + self.extra(js)  # the statistics ride on k-means||'s first pass
                self.assertGreaterEqual(js["passes"], base + 1, "k-means|| makes at least one pass")
                self.assertLessEqual(js["passes"], base + 1 + rounds)
                self.assertEqual(js["parameters"]["init_max_iter"], rounds)

    def test_kmeans_plusplus_and_random(self):
        inp = blobs(1)
        # k-means++ makes 2k - 1 passes (one adding each centre after the first, the first also computing the
        # statistics; one scoring each step's trials); random one, for the statistics
        for init, init_passes in (("k-means++", 15), ("random", 1)):
            for max_iter in (1, 300):
                with self.subTest(init=init, max_iter=max_iter):
                    js = fit(self, inp, "--init", init, "--max-iter", max_iter, "--tol", 0)
                    self.assertLessEqual(js["n_iter"], max_iter)
                    self.assertEqual(js["passes"], init_passes + js["n_iter"] + self.extra(js))
                    if max_iter == 1:
                        self.assertEqual(self.extra(js), 1, "one Lloyd step from a seeding moves the centres")

    def test_bytes_read(self):
        inp = big()
        with T.open_h5(inp) as f:
            stored = f["X"].id.get_storage_size()
        runs = {}
        small = smallest_limit(self, inp, "-t", 2, "--init", "random")
        for limit in (LARGE_LIMIT, small):
            for max_iter in (1, 3):
                runs[limit, max_iter] = fit(self, inp, "-t", 2, "--memory-limit", limit, "--init", "random",
                                            "--max-iter", max_iter, "--tol", 0)
        # Cached: every chunk read from storage once, however many passes.
        for max_iter in (1, 3):
            self.assertEqual(runs[LARGE_LIMIT, max_iter]["bytes_read"], stored)
        a, b = runs[small, 1], runs[small, 3]
        self.assertGreater(b["passes"], a["passes"])
        self.assertGreaterEqual(a["bytes_read"], 2 * stored, "streaming re-reads the data")
        # Each extra pass re-reads what the cache could not hold: up to the whole stored dataset.
        grew = b["bytes_read"] - a["bytes_read"]
        self.assertGreater(grew, 0.5 * stored * (b["passes"] - a["passes"]))
        self.assertLessEqual(grew, stored * (b["passes"] - a["passes"]))


if __name__ == "__main__":
    unittest.main()
