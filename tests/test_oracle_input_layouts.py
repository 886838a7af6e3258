"""Inputs whose storage the fast paths once misread, against h5py and numpy: storage chunks taller than the
dataset (h5py's resizable datasets); chunks never written, with fill time NEVER; datasets behind external
links; float types other than float32 and float64; unfiltered chunks whose index records another size; partial
chunks stored unfiltered."""
import itertools
import json
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ooc_testlib as T  # noqa: E402  (sets HDF5_PLUGIN_PATH before h5py is imported)

import numpy as np  # noqa: E402

h5py = T.h5py()

ZSTD = 32015
RUNS = itertools.count()  # names the outputs of each fit


setUpModule, tearDownModule, tmp = T.module_tempdir("oracle_input_layouts_")


def blobs(rows, cols=4, k=3, seed=0):
    """rows x cols float64: k well-separated Gaussian blobs."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-20, 20, size=(k, cols))
    return centres[rng.integers(0, k, size=rows)] + rng.normal(scale=0.5, size=(rows, cols))


def ok(tc, argv, **kwargs):
    """stdout of a successful run of argv (kwargs: T.run's), which must print nothing on stderr."""
    status, out, err = T.run(argv, **kwargs)
    tc.assertEqual(status, 0, f"{' '.join(map(str, argv))}: exit {status}:\n{err}")
    tc.assertEqual(T.error_lines(err), [], f"{' '.join(map(str, argv))} printed on stderr")
    return out


def stats(tc, inp, *args, **kwargs):
    """chunkinfo --stats --json of inp."""
    return json.loads(ok(tc, ["chunkinfo", inp, "--stats", "--json", "-q", *args], **kwargs))


def check_stats(tc, inp, X):
    """chunkinfo's per-column statistics of inp equal numpy's of X (min and max exactly)."""
    cols = stats(tc, inp)["columns"]
    X = np.asarray(X, dtype=np.float64)
    tc.assertEqual(len(cols), X.shape[1])
    for j, c in enumerate(cols):
        tc.assertEqual(c["count"], X.shape[0], f"{inp} column {j}")
        tc.assertEqual(c["min"], X[:, j].min(), f"{inp} column {j}: min")
        tc.assertEqual(c["max"], X[:, j].max(), f"{inp} column {j}: max")
        scale = abs(X[:, j]).max()
        tc.assertLessEqual(abs(c["mean"] - X[:, j].mean()), 1e-12 * scale, f"{inp} column {j}: mean")
        tc.assertLessEqual(abs(c["var"] - X[:, j].var()), 1e-10 * scale * scale, f"{inp} column {j}: var")


def check_fit(tc, inp, X, *args, k=3):
    """kmeans-ooc fit of inp (with args), then predict with its model: labels are numpy's nearest centre of the model's
    centres (as the tool measures, in the data's precision) and inertia numpy's sum over X. Returns the fit's
    JSON, the centres and the labels."""
    name = tmp(f"fit-{next(RUNS)}")
    model, labels, again = name + ".model.h5", name + ".labels.h5", name + ".predict.h5"
    js = json.loads(ok(tc, ["kmeans-ooc", "fit", inp, "-k", k, "--json", "-q", "-o", model, "--labels", labels,
                            "-f", *args]))
    with h5py.File(model, "r") as f:
        C = f["cluster_centers"][...]
    with h5py.File(labels, "r") as f:
        lab = f["labels"][...]
    T.assert_nearest_centres(tc, X, C, lab, js["inertia"], inp)
    pj = json.loads(ok(tc, ["kmeans-ooc", "predict", model, inp, "--labels", again, "--json", "-q", "-f", *args]))
    with h5py.File(again, "r") as f:
        np.testing.assert_array_equal(f["labels"][...], lab)
    # up to rounding: the fit's inertia comes from per-cluster sums, predict's adds the rows' distances
    tc.assertLessEqual(abs(pj["inertia"] - js["inertia"]), 1e-12 * js["inertia"])
    return js, C, lab


class TallStorageChunks(unittest.TestCase):
    """h5py's append pattern: a resizable dataset with 1000-row chunks holding fewer rows (300), or a last
    chunk only partly inside the dataset (2300), in every layout our raw-chunk path decodes."""

    LAYOUTS = {
        "plain": {},
        "shuffle": {"shuffle": True},
        "shuffle_zstd": {"shuffle": True, "compression": ZSTD, "compression_opts": (3,)},
        "zstd": {"compression": ZSTD, "compression_opts": (3,)},
    }

    def write(self, name, X, layout):
        p = tmp(name)
        with h5py.File(p, "w") as f:
            d = f.create_dataset("X", shape=(0, X.shape[1]), maxshape=(None, X.shape[1]), chunks=(1000, X.shape[1]),
                                 dtype=X.dtype, **self.LAYOUTS[layout])
            d.resize(X.shape)
            d[...] = X
        return p

    def test_every_layout_and_float_type(self):
        for rows in (300, 2300):
            for layout in self.LAYOUTS:
                for dtype in (np.float32, np.float64):
                    with self.subTest(rows=rows, layout=layout, dtype=dtype.__name__):
                        X = blobs(rows, seed=rows).astype(dtype)
                        p = self.write(f"tall-{rows}-{layout}-{dtype.__name__}.h5", X, layout)
                        check_stats(self, p, X)
                        check_fit(self, p, X)


class UnwrittenChunks(unittest.TestCase):
    """Chunks never written, fill time NEVER (as ooc's writer and netCDF's NC_NOFILL set it): HDF5 then reads
    nothing for them and leaves the caller's buffer as it was (so h5py gives whatever np.empty held); ooc
    reads them as the dataset's fill value, the same for any thread count. The oracle is the written rows
    with the fill value everywhere else."""

    WRITTEN = (0, 3)  # of 5 chunks of 1000 rows

    def write(self, name, X, layout, fill):
        p = tmp(name)
        with h5py.File(p, "w") as f:
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((1000, X.shape[1]))
            if layout in ("shuffle_zstd", "shuffle"):
                dcpl.set_shuffle()
            if layout in ("shuffle_zstd", "zstd"):
                dcpl.set_filter(ZSTD, h5py.h5z.FLAG_MANDATORY, (3,))
            if layout == "gzip":
                dcpl.set_deflate(4)
            if fill is not None:
                dcpl.set_fill_value(np.array(fill, dtype=X.dtype))
            dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
            h5py.h5d.create(f.id, b"X", h5py.h5t.py_create(X.dtype), h5py.h5s.create_simple(X.shape), dcpl=dcpl)
            for c in self.WRITTEN:
                f["X"][c * 1000:(c + 1) * 1000] = X[c * 1000:(c + 1) * 1000]
            self.assertEqual(f["X"].id.get_num_chunks(), len(self.WRITTEN))
        expected = np.full_like(X, 0 if fill is None else fill)
        for c in self.WRITTEN:
            expected[c * 1000:(c + 1) * 1000] = X[c * 1000:(c + 1) * 1000]
        return p, expected

    def test_fill_value_for_any_thread_count(self):
        for layout in ("plain", "shuffle", "zstd", "shuffle_zstd", "gzip"):
            for fill in (None, 7.5):
                for dtype in (np.float64, np.float32):
                    with self.subTest(layout=layout, fill=fill, dtype=dtype.__name__):
                        X = blobs(5000, cols=3, seed=5).astype(dtype)
                        p, expected = self.write(f"unwritten-{layout}-{fill}-{dtype.__name__}.h5", X, layout, fill)
                        check_stats(self, p, expected)
                        self.assertEqual(stats(self, p, "-t", 1)["columns"], stats(self, p, "-t", 2)["columns"])
                        one, C1, lab1 = check_fit(self, p, expected, "-t", 1)
                        two, C2, lab2 = check_fit(self, p, expected, "-t", 2)
                        self.assertEqual(one["inertia"], two["inertia"])
                        self.assertEqual(C1.tobytes(), C2.tobytes())
                        self.assertEqual(lab1.tobytes(), lab2.tobytes())


class OtherFloatTypes(unittest.TestCase):
    """float16 and long double (numpy's float128 on x86-64), either byte order, compressed or not: HDF5
    converts them to float64, as it does integers."""

    def test_read_as_float64(self):
        for dtype, name in (("<f2", "float16"), (">f2", "float16"), (np.longdouble, None)):
            for layout in ({}, {"chunks": (500, 4), "shuffle": True, "compression": ZSTD, "compression_opts": (3,)}):
                with self.subTest(dtype=str(np.dtype(dtype)), layout=layout):
                    X = blobs(2000, seed=9).astype(dtype)
                    p = tmp(f"float-{np.dtype(dtype).str}-{len(layout)}.h5")
                    with h5py.File(p, "w") as f:
                        f.create_dataset("X", data=X, **layout)
                    X64 = X.astype(np.float64)
                    info = json.loads(ok(self, ["chunkinfo", p, "--json"]))
                    self.assertEqual(info["dtype"], name or f"float{8 * np.dtype(dtype).itemsize}")
                    check_stats(self, p, X64)
                    check_fit(self, p, X64)


class IndexedChunkSizes(unittest.TestCase):
    """An unfiltered chunked dataset whose chunk index (version 1 B-tree, HDF5's default) records a size other
    than the chunk's for one chunk. HDF5 1.10 reads an unfiltered chunk at its own size when it bypasses its
    chunk cache (h5py with rdcc_nbytes=0 reads the data as written), and at the recorded size through it: h5py
    with its defaults fails, or reads past its own buffer. ooc read the recorded size into a chunk-sized
    buffer (glibc abort), then overran HDF5's; it must read the data as written."""

    def write(self, name, X, chunk_rows, bad_chunk, recorded):
        p = tmp(name)
        with h5py.File(p, "w") as f:
            f.create_dataset("X", data=X, chunks=(chunk_rows, X.shape[1]))
        size = chunk_rows * X.shape[1] * X.dtype.itemsize
        # The chunk's B-tree key: its size, filter mask 0, then its offset in each dimension and the element's.
        key = struct.pack("<II", size, 0) + struct.pack("<QQQ", bad_chunk * chunk_rows, 0, 0)
        data = bytearray(open(p, "rb").read())
        self.assertEqual(data.count(key), 1, "the chunk's index key")
        at = data.index(key)
        data[at:at + 4] = struct.pack("<I", recorded)
        with open(p, "wb") as f:
            f.write(data)
        with h5py.File(p, "r", rdcc_nbytes=0) as f:
            np.testing.assert_array_equal(f["X"][...], X)  # the oracle reads it as written
        return p

    def test_read_as_written(self):
        for dtype in (np.float64, np.float32):
            X = blobs(3000, seed=11).astype(dtype)
            size = 500 * 4 * X.dtype.itemsize
            for bad_chunk, recorded in ((0, size + 0xE100), (2, size // 2), (5, size + 8)):
                with self.subTest(dtype=dtype.__name__, chunk=bad_chunk, recorded=recorded):
                    p = self.write(f"index-size-{dtype.__name__}-{bad_chunk}-{recorded}.h5", X, 500, bad_chunk,
                                   recorded)
                    check_stats(self, p, X)
                    check_fit(self, p, X)


class UnfilteredPartialChunks(unittest.TestCase):
    """H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS (libver v110 and later): HDF5 stores a partial last chunk as it is,
    unfiltered, yet its filter mask says 0 (every filter applied); only the dataset's option says otherwise.
    ooc decoded it as zstd and refused the file ("not a zstd frame"); h5py reads it."""

    def test_read_as_h5py_reads(self):
        import ctypes  # h5py has no H5Pset_chunk_opts: called in the HDF5 library h5py loaded
        with open("/proc/self/maps") as maps:
            lib = next(line.split()[-1] for line in maps if "/libhdf5" in line and "_hl" not in line)
        hdf5 = ctypes.CDLL(lib)
        hdf5.H5Pset_chunk_opts.argtypes = [ctypes.c_int64, ctypes.c_uint]
        X = blobs(1000, seed=12)
        for shuffle, maxshape in ((True, (None, 4)), (False, (1000, 4))):
            with self.subTest(shuffle=shuffle, maxshape=maxshape):
                p = tmp(f"partial-raw-{shuffle}-{maxshape[0]}.h5")
                with h5py.File(p, "w", libver="latest") as f:
                    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                    dcpl.set_chunk((128, 4))
                    if shuffle:
                        dcpl.set_shuffle()
                    dcpl.set_filter(ZSTD, 0, (3,))
                    self.assertEqual(hdf5.H5Pset_chunk_opts(dcpl.id, 2), 0)  # DONT_FILTER_PARTIAL_CHUNKS
                    space = h5py.h5s.create_simple((1000, 4), tuple(h5py.h5s.UNLIMITED if m is None else m
                                                                    for m in maxshape))
                    h5py.h5d.create(f.id, b"X", h5py.h5t.IEEE_F64LE, space, dcpl=dcpl)
                    f["X"][...] = X
                with h5py.File(p, "r") as f:
                    np.testing.assert_array_equal(f["X"][...], X)
                    self.assertEqual(f["X"].id.get_chunk_info(7).size, 128 * 4 * 8)  # stored raw
                check_stats(self, p, X)
                check_fit(self, p, X)


class ExternalLinks(unittest.TestCase):
    """/X an external link to a chunkgen (zstd) dataset in another file, with a user block in neither, the
    linking file or the target, run from another directory too: the same statistics, centres, inertia and
    labels as on the target itself. (The linking file holding other chunks at the target's addresses, which
    passed for the target's, is test_io_reader's.)"""

    def fit(self, inp, **kwargs):
        out = tmp(f"fit-{next(RUNS)}")
        js = json.loads(ok(self, ["kmeans-ooc", "fit", inp, "-k", 3, "--json", "-q", "-o", out + ".model.h5",
                                  "--labels", out + ".labels.h5"], **kwargs))
        with h5py.File(out + ".model.h5", "r") as f:
            C = f["cluster_centers"][...]
        with h5py.File(out + ".labels.h5", "r") as f:
            lab = f["labels"][...]
        return js["inertia"], js["n_iter"], C.tobytes(), lab.tobytes()

    def test_same_results_as_the_target(self):
        target = tmp("link-target.h5")
        status, out, err = T.chunkgen("-q", "-n", 20000, "-d", 4, "-c", 3, "--chunk-rows", 2000, "--seed", 3, target)
        self.assertEqual(status, 0, err)
        # The target's chunks copied as they are (H5Ocopy) into a file with a user block.
        target_ub = tmp("link-target-ub.h5")
        with h5py.File(target, "r") as src, h5py.File(target_ub, "w", userblock_size=4096) as dst:
            dst.copy(src["X"], "X")
        links = []
        for name, to, userblock in (("link.h5", target, 0), ("link-ub.h5", target, 4096),
                                    ("link-to-ub.h5", target_ub, 0)):
            links.append(tmp(name))
            with h5py.File(links[-1], "w", **({"userblock_size": userblock} if userblock else {})) as f:
                f["padding"] = np.arange(50000.0)  # so the linking file's bytes lie where the target's chunks do
                f["X"] = h5py.ExternalLink(os.path.basename(to), "/X")
        want_stats, want_fit = stats(self, target)["columns"], self.fit(target)
        elsewhere = tmp("elsewhere")
        os.makedirs(elsewhere, exist_ok=True)
        for p in links:
            for cwd in (None, elsewhere):
                with self.subTest(link=os.path.basename(p), cwd=cwd):
                    self.assertEqual(stats(self, p, cwd=cwd)["columns"], want_stats)
                    self.assertEqual(self.fit(p, cwd=cwd), want_fit)


if __name__ == "__main__":
    unittest.main()
