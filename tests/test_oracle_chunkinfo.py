"""chunkinfo --stats --json against h5py and numpy, on datasets written by h5py in many layouts, types and
filters, on chunkgen files and on blobs: inputs: shape, dtype, chunks, filters, sizes, per-column count,
mean, population variance, min, max and the first non-finite row; and the statistics bitwise identical for
any thread count and memory limit (cached or streamed)."""
import json
import os
import sys
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ooc_testlib as T  # noqa: E402  (sets HDF5_PLUGIN_PATH before h5py is imported)

import numpy as np  # noqa: E402

h5py = T.h5py()

FILTER_NAMES = {1: "deflate", 2: "shuffle", 3: "fletcher32", 32015: "zstd"}


setUpModule, tearDownModule, tmp = T.module_tempdir("oracle_chunkinfo_")


def chunkinfo(*args):
    """The JSON of a successful chunkinfo run."""
    status, out, err = T.run(["chunkinfo", *args, "--json", "-q"])
    if status != 0:
        raise AssertionError(f"chunkinfo {' '.join(map(str, args))}: exit {status}: {err}")
    return json.loads(out)


def oracle(data):
    """numpy's per-column statistics over the finite values, in float64."""
    x = np.array(data, dtype=np.float64)
    finite = np.isfinite(x)
    bad_rows = np.nonzero(~finite.all(axis=1))[0]
    x[~finite] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column
        return {
            "count": finite.sum(axis=0),
            "mean": np.nanmean(x, axis=0),
            "var": np.nanvar(x, axis=0),
            "min": np.nanmin(x, axis=0),
            "max": np.nanmax(x, axis=0),
            "std": np.nanstd(x, axis=0),
            "first_nonfinite_row": int(bad_rows[0]) if len(bad_rows) else None,
        }


class Case(unittest.TestCase):
    def check_stats(self, info, data, rtol):
        want = oracle(data)
        cols = info["columns"]
        self.assertEqual(len(cols), np.shape(data)[1])
        self.assertEqual(info["first_nonfinite_row"], want["first_nonfinite_row"])
        for j, c in enumerate(cols):
            where = f"{info['input']} column {j}"
            self.assertEqual(c["count"], int(want["count"][j]), where)
            if want["count"][j] == 0:
                for key in ("mean", "var", "min", "max"):
                    self.assertTrue(c[key] is None or np.isnan(c[key]), f"{where}: {key} = {c[key]}")
                continue
            self.assertEqual(c["min"], want["min"][j], f"{where}: min")
            self.assertEqual(c["max"], want["max"][j], f"{where}: max")
            std = want["std"][j]
            # The mean is good to rtol of the data's scale (|mean| + std); the variance to rtol of itself (plus
            # what rounding the mean costs numpy's two-pass variance: a constant column's is not exactly 0).
            self.assertLessEqual(abs(c["mean"] - want["mean"][j]), rtol * (abs(want["mean"][j]) + std) + 1e-300,
                                 f"{where}: mean {c['mean']!r} vs numpy {want['mean'][j]!r}")
            self.assertLessEqual(abs(c["var"] - want["var"][j]), rtol * want["var"][j] + 1e-20 * want["mean"][j] ** 2 + 1e-300,
                                 f"{where}: var {c['var']!r} vs numpy {want['var'][j]!r}")

    def check_h5(self, path, name, rtol=1e-12, chunks_expected=None):
        """Everything chunkinfo says of path:name against h5py and numpy; returns the JSON."""
        spec = f"{path}:{name}"
        info = chunkinfo(spec, "--stats", "-t", "2")
        with h5py.File(path, "r") as f:
            d = f[name]
            data = d[...]
            self.assertEqual(info["input"], spec)
            self.assertEqual(info["shape"], list(d.shape))
            self.assertEqual(info["dtype"], d.dtype.name)
            if d.dtype.itemsize > 1:
                self.assertEqual(info["byte_order"], "big" if d.dtype.byteorder == ">" else "little")
            self.assertEqual(info["chunks"], list(d.chunks) if d.chunks else None)
            dcpl = d.id.get_create_plist()
            layout = {h5py.h5d.CHUNKED: "chunked", h5py.h5d.COMPACT: "compact", h5py.h5d.VIRTUAL: "virtual",
                      h5py.h5d.CONTIGUOUS: "external" if dcpl.get_external_count() else "contiguous"}
            self.assertEqual(info["layout"], layout[dcpl.get_layout()])
            if chunks_expected is not None:
                self.assertEqual(info["chunks"], chunks_expected)
            self.assertEqual([(x["id"], x["name"]) for x in info["filters"]],
                             [(fi[0], FILTER_NAMES.get(fi[0], "?")) for fi in T.filters(d)])
            self.assertEqual(info["raw_bytes"], d.size * d.dtype.itemsize)
            self.assertEqual(info["stored_bytes"], d.id.get_storage_size())
        rows = info["shape"][0]
        self.assertGreaterEqual(info["processing_chunk_rows"], 1)
        self.assertEqual(info["processing_chunks"], -(-rows // info["processing_chunk_rows"]))
        if info["chunks"]:
            self.assertTrue(info["processing_chunk_rows"] % info["chunks"][0] == 0
                            or info["processing_chunk_rows"] == rows, info)
        self.check_stats(info, data, rtol)
        self.check_identical(spec, info)
        return info

    def check_identical(self, spec, info):
        """The columns, bit for bit, for -t 1 and 2, cached and streamed."""
        want = json.dumps(info["columns"]) + repr(info["first_nonfinite_row"])
        chunk_mib = info["processing_chunk_rows"] * info["shape"][1] * 8 / 2**20
        # Enough for the working buffers of 2 threads (engine/ooc_stream.c working_bytes(): a 64 MiB process
        # reserve, two chunks and 1 MiB per thread, and a prefetch ring of threads + 1 stored chunks) and a
        # chunk or so.
        tight = f"{int(64 + 2 * (2 * chunk_mib + 1) + 3 * chunk_mib + chunk_mib + 2)}M"
        for args in (["-t", "1"], ["-t", "2", "--memory-limit", "4G"], ["-t", "2", "--memory-limit", tight],
                     ["-t", "1", "--memory-limit", tight]):
            got = chunkinfo(spec, "--stats", *args)
            self.assertEqual(json.dumps(got["columns"]) + repr(got["first_nonfinite_row"]), want,
                             f"{spec} {' '.join(args)}")
        return want


class TestH5pyLayouts(Case):
    """Datasets written by h5py, as other programs write them."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(1234)
        cls.path = tmp("layouts.h5")
        base = rng.normal(5.0, 3.0, size=(20011, 5))
        base[:, 1] *= 1e6
        base[:, 2] -= 1e3
        with h5py.File(cls.path, "w") as f:
            f.create_dataset("contiguous", data=base)
            f.create_dataset("chunked777", data=base[:, :3], chunks=(777, 3))
            f.create_dataset("gzip", data=base, chunks=(1000, 5), compression="gzip", compression_opts=4)
            f.create_dataset("shuffle_gzip", data=base, chunks=(500, 2), shuffle=True, compression="gzip")
            f.create_dataset("big_endian", data=base.astype(">f8"), chunks=(3000, 5))
            f.create_dataset("big_endian_contiguous", data=base.astype(">f8"))
            f.create_dataset("int16", data=rng.integers(-32768, 32767, size=(20011, 4), endpoint=True).astype("i2"),
                             chunks=(4096, 4), compression="gzip")
            f.create_dataset("uint8", data=rng.integers(0, 255, size=(20011, 6), endpoint=True).astype("u1"))
            f.create_dataset("int64_be", data=rng.integers(-2**40, 2**40, size=(5000, 3)).astype(">i8"))
            f.create_dataset("float32", data=base.astype("f4"), chunks=(2048, 5), shuffle=True, compression="gzip")
            f.create_dataset("float32_contiguous", data=base.astype("f4"))
            f.create_dataset("zstd", data=base, chunks=(1024, 5), compression=32015, compression_opts=(3,))
            f.create_dataset("shuffle_zstd_narrow", data=base, chunks=(999, 2), shuffle=True, compression=32015,
                             compression_opts=(9,))
            f.create_dataset("zstd_float32", data=base.astype("f4"), chunks=(3333, 5), shuffle=True,
                             compression=32015, compression_opts=(1,))
            f.create_dataset("fletcher32", data=base, chunks=(1500, 5), fletcher32=True)
            f.create_dataset("fletcher32_gzip", data=base, chunks=(1500, 5), fletcher32=True, compression="gzip")
            f.create_dataset("a/b/data", data=base[:, :4], chunks=(600, 4), compression="gzip")
            f.create_dataset("one_row", data=base[:1])
            f.create_dataset("one_row_chunked", data=base[:1], chunks=(1, 5), compression="gzip")
            f.create_dataset("one_column", data=base[:, 3:4], chunks=(700, 1), compression="gzip")
            f.create_dataset("one_column_contiguous", data=base[:, 3:4])
            f.create_dataset("constant", data=np.full((3001, 2), 0.1), chunks=(300, 2))
            # Wide rows: processing chunks of whole storage chunks, the last one short.
            f.create_dataset("wide", data=rng.normal(size=(3000, 700)), chunks=(1200, 700))
            # The values in the file's header (compact), or in other files: a virtual dataset of two of the
            # datasets above, and raw storage of a file of its own.
            small = np.ascontiguousarray(base[:500, :3])
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            h5py.h5d.create(f.id, b"compact", h5py.h5t.IEEE_F64LE, h5py.h5s.create_simple(small.shape),
                            dcpl=dcpl).write(h5py.h5s.ALL, h5py.h5s.ALL, small)
            layout = h5py.VirtualLayout(shape=(20011, 3), dtype="f8")
            layout[:, :2] = h5py.VirtualSource(f["contiguous"])[:, :2]
            layout[:, 2:] = h5py.VirtualSource(f["gzip"])[:, 4:]
            f.create_virtual_dataset("virtual", layout)
            base.tofile(tmp("layouts_raw.bin"))
            f.create_dataset("external", shape=base.shape, dtype="<f8", external=[(tmp("layouts_raw.bin"), 0, base.nbytes)])

    def test_contiguous(self):
        info = self.check_h5(self.path, "/contiguous", chunks_expected=None)
        self.assertEqual(info["filters"], [])

    def test_compact_virtual_external(self):
        for name in ("/compact", "/virtual", "/external"):
            with self.subTest(name=name):
                info = self.check_h5(self.path, name)
                self.assertEqual(info["layout"], name[1:])
        status, out, err = T.run(["chunkinfo", self.path + ":/virtual"])
        self.assertEqual((status, err), (0, ""))
        self.assertIn("chunks      none (virtual)", out)
        self.assertIn("stored      in other files (virtual)", out)

    def test_chunks_777(self):
        self.check_h5(self.path, "/chunked777", chunks_expected=[777, 3])

    def test_gzip(self):
        info = self.check_h5(self.path, "/gzip")
        self.assertEqual(info["filters"], [{"name": "deflate", "id": 1, "available": True}])

    def test_shuffle_gzip(self):
        info = self.check_h5(self.path, "/shuffle_gzip", chunks_expected=[500, 2])
        self.assertEqual([x["name"] for x in info["filters"]], ["shuffle", "deflate"])

    def test_big_endian(self):
        info = self.check_h5(self.path, "/big_endian")
        self.assertEqual((info["dtype"], info["byte_order"]), ("float64", "big"))
        self.check_h5(self.path, "/big_endian_contiguous")

    def test_integers(self):
        self.assertEqual(self.check_h5(self.path, "/int16")["dtype"], "int16")
        self.assertEqual(self.check_h5(self.path, "/uint8")["dtype"], "uint8")
        info = self.check_h5(self.path, "/int64_be")
        self.assertEqual((info["dtype"], info["byte_order"]), ("int64", "big"))

    def test_float32(self):
        # float32 values are exact in float64; the statistics may be accumulated in either precision.
        self.assertEqual(self.check_h5(self.path, "/float32", rtol=1e-6)["dtype"], "float32")
        self.check_h5(self.path, "/float32_contiguous", rtol=1e-6)

    def test_zstd_written_by_h5py(self):
        info = self.check_h5(self.path, "/zstd")
        self.assertEqual(info["filters"], [{"name": "zstd", "id": 32015, "available": True}])
        info = self.check_h5(self.path, "/shuffle_zstd_narrow")
        self.assertEqual([x["id"] for x in info["filters"]], [2, 32015])
        self.check_h5(self.path, "/zstd_float32", rtol=1e-6)

    def test_fletcher32(self):
        info = self.check_h5(self.path, "/fletcher32")
        self.assertEqual(info["filters"], [{"name": "fletcher32", "id": 3, "available": True}])
        self.check_h5(self.path, "/fletcher32_gzip")

    def test_nested_path(self):
        self.check_h5(self.path, "/a/b/data", chunks_expected=[600, 4])

    def test_one_row_one_column(self):
        for name in ("/one_row", "/one_row_chunked"):
            info = self.check_h5(self.path, name)
            self.assertEqual((info["shape"], info["processing_chunks"]), ([1, 5], 1))
            for c in info["columns"]:
                self.assertEqual((c["count"], c["var"], c["min"]), (1, 0.0, c["max"]))
        for name in ("/one_column", "/one_column_contiguous"):
            self.assertEqual(self.check_h5(self.path, name)["shape"], [20011, 1])

    def test_constant_column(self):
        info = self.check_h5(self.path, "/constant")
        for c in info["columns"]:
            self.assertEqual((c["mean"], c["var"], c["min"], c["max"]), (0.1, 0.0, 0.1, 0.1))

    def test_wide_chunks(self):
        info = self.check_h5(self.path, "/wide")
        self.assertEqual(info["processing_chunk_rows"] % 1200, 0)
        self.assertGreaterEqual(info["processing_chunks"], 2)


class TestNonFinite(Case):
    """NaN and infinities: reported by their first row, left out of the statistics."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(99)
        cls.path = tmp("nonfinite.h5")
        base = rng.normal(-2.0, 4.0, size=(12000, 4))
        cls.cases = {}
        with h5py.File(cls.path, "w") as f:
            def put(name, cells, **kw):
                x = base.copy()
                for (r, c, v) in cells:
                    x[r, c] = v
                f.create_dataset(name, data=x, **kw)
                cls.cases[name] = min(r for r, _, _ in cells) if cells else None

            # NaN late, +inf earlier; and the other way round; in various layouts.
            put("inf_first", [(7001, 1, np.nan), (2345, 2, np.inf)], chunks=(777, 4), compression="gzip")
            put("nan_first", [(1500, 0, np.nan), (9999, 3, np.inf), (11999, 2, -np.inf)], chunks=(1000, 4))
            put("contiguous", [(10, 3, np.inf), (11, 0, np.nan)])
            # Within one row-major chunk: row 300's bad value sits in a later column than row 301's.
            put("same_chunk", [(301, 0, np.nan), (300, 3, -np.inf)], chunks=(4000, 4), shuffle=True,
                compression=32015, compression_opts=(3,))
            put("last_row", [(11999, 0, np.inf)], chunks=(5000, 4))
            put("first_row", [(0, 2, np.nan), (5, 2, np.nan)], chunks=(5000, 4), compression="gzip")
            x = base.copy()
            x[:, 1] = np.nan  # a column with no finite value at all
            f.create_dataset("all_nan_column", data=x, chunks=(3000, 4))
            cls.cases["all_nan_column"] = 0

    def test_each_case(self):
        for name, first in self.cases.items():
            with self.subTest(name):
                info = self.check_h5(self.path, "/" + name)
                self.assertEqual(info["first_nonfinite_row"], first)

    def test_far_from_zero(self):
        """Data far from 0 relative to its spread (1e12 - N(0, 1), timestamps at 1.7e9): the chunks' means were
        merged as whole values, whose rounding their differences carry (variance 9e-7 off at 1e12, 7e-10 for the
        timestamps). The oracle: numpy on the stored values less the offset, which is exact at these
        magnitudes."""
        rng = np.random.default_rng(8)
        for offset, rows, chunk in ((-1e12, 5000, 1000), (1.7e9, 200000, 10000)):
            with self.subTest(offset=offset):
                x = (offset + rng.normal(size=(rows, 1)))
                path = tmp(f"far-{offset:g}.h5")
                with h5py.File(path, "w") as f:
                    f.create_dataset("X", data=x, chunks=(chunk, 1))
                near = x[:, 0] - offset  # exact: both within a factor of 2 of each other
                col = chunkinfo(path, "--stats")["columns"][0]
                self.assertLess(abs(col["var"] - near.var()), 1e-8 * near.var())
                self.assertLess(abs(col["mean"] - (offset + near.mean())), 1e-15 * abs(offset))

    def test_sums_that_overflow(self):
        """Finite values whose sums overflow float64 (numpy's mean is not finite): every column is still in the
        JSON, its mean the true one (numpy's of the values scaled by a power of two, exact), its variance past
        the largest double (null), its extremes exact."""
        path = tmp("overflow.h5")
        x = np.random.default_rng(5).normal(size=(1000, 2)) * 1e307
        x[:, 1] = 1.0
        with h5py.File(path, "w") as f:
            f["X"] = x
        with np.errstate(over="ignore", invalid="ignore"):
            self.assertFalse(np.isfinite(x[:, 0].mean()))
        info = chunkinfo(path, "--stats")
        self.assertEqual(len(info["columns"]), 2)
        c0, c1 = info["columns"]
        self.assertEqual((c0["var"], c0["min"], c0["max"], c0["count"]), (None, x[:, 0].min(), x[:, 0].max(), 1000))
        self.assertLess(abs(c0["mean"] - (x[:, 0] / 8).mean() * 8), 1e-13 * np.abs(x[:, 0] / 8).max() * 8)
        self.assertEqual((c1["mean"], c1["var"], c1["min"], c1["max"]), (1.0, 0.0, 1.0, 1.0))
        self.assertIsNone(info["first_nonfinite_row"])

    def test_nan_in_our_layout(self):
        """A chunkgen file with values overwritten through h5py (and the zstd plugin): the fast path."""
        path = tmp("nan_chunkgen.h5")
        status, _, err = T.chunkgen("-q", "-f", "-n", "30000", "-d", "3", "--chunk-rows", "4000", "--seed", "4",
                                    path)
        self.assertEqual(status, 0, err)
        with h5py.File(path, "r+") as f:
            f["X"][25000, 2] = np.inf
            f["X"][9000, 0] = np.nan
            f["X"][9000, 1] = -np.inf
        info = self.check_h5(path, "/X")
        self.assertEqual(info["first_nonfinite_row"], 9000)
        self.assertEqual(info["processing_chunk_rows"], 4000)
        self.assertEqual(info["chunks"], [4000, 3])


class TestGenerated(Case):
    """chunkgen files and blobs: inputs against h5py's reading of the same data."""

    def check_blobs(self, params, rtol=1e-12):
        path = tmp("gen.h5")
        args = ["-q", "-f", "-n", params["samples"], "-d", params["features"], "-c", params["centers"],
                "--seed", params["seed"], "--chunk-rows", params["chunk_rows"], "--dtype", params["dtype"],
                "--cluster-std", params["cluster_std"]]
        status, _, err = T.chunkgen(*args, path)
        self.assertEqual(status, 0, err)
        spec = "blobs:" + ",".join(f"{k}={v}" for k, v in params.items())
        from_file = self.check_h5(path, "/X", rtol=rtol)
        self.assertEqual(from_file["chunks"], [min(params["chunk_rows"], params["samples"]), params["features"]])
        self.assertEqual([x["id"] for x in from_file["filters"]], [2, 32015])
        self.assertEqual(from_file["processing_chunk_rows"], min(params["chunk_rows"], params["samples"]))

        gen = chunkinfo(spec, "--stats", "-t", "2")
        self.assertEqual(gen["input"], spec)
        self.assertEqual(gen["shape"], [params["samples"], params["features"]])
        self.assertEqual(gen["dtype"], params["dtype"])
        self.assertIsNone(gen["chunks"])
        self.assertEqual(gen["filters"], [])
        self.assertEqual(gen["raw_bytes"], from_file["raw_bytes"])
        self.assertEqual(gen["processing_chunks"], from_file["processing_chunks"])
        self.assertEqual(gen["bytes_read"], 0)
        with h5py.File(path, "r") as f:
            self.check_stats(gen, f["X"][...], rtol)
        # Same values, same chunking: the same bits as the file's statistics.
        self.assertEqual(json.dumps(gen["columns"]), json.dumps(from_file["columns"]))
        self.check_identical(spec, gen)
        os.remove(path)

    def test_blobs_float64(self):
        self.check_blobs({"samples": 50000, "features": 6, "centers": 5, "seed": 3, "chunk_rows": 7000,
                          "cluster_std": 1.5, "dtype": "float64"})

    def test_blobs_float32(self):
        self.check_blobs({"samples": 40001, "features": 3, "centers": 4, "seed": 8, "chunk_rows": 4096,
                          "cluster_std": 0.5, "dtype": "float32"}, rtol=1e-6)

    def test_blobs_one_chunk(self):
        self.check_blobs({"samples": 999, "features": 1, "centers": 2, "seed": 0, "chunk_rows": 5000,
                          "cluster_std": 1.0, "dtype": "float64"})

    def test_chunkgen_thread_count_and_limits(self):
        """A file of 20 chunks, under limits from a little over the working buffers to plenty and on 1 to 3
        threads: the statistics are the same bits, from the same bytes read."""
        path = tmp("limits.h5")
        status, _, err = T.chunkgen("-q", "-f", "-n", "200000", "-d", "5", "--chunk-rows", "10000", path)
        self.assertEqual(status, 0, err)
        want = chunkinfo(path, "--stats", "-t", "1")
        chunk_kib = 10000 * 5 * 8 / 1024
        for threads in (1, 2, 3):
            # What the stream holds (engine/ooc_stream.c working_bytes()): a process reserve, per thread a decoded
            # chunk, shuffle scratch and the stored chunk read from the file.
            working_kib = chunkinfo(path, "--stats", "-t", threads)["working_bytes"] / 1024
            self.assertGreater(working_kib, threads * 2 * chunk_kib)
            for extra in (0.5, 2.5, 8.5):
                limit = f"{int(working_kib + extra * chunk_kib)}K"
                got = chunkinfo(path, "--stats", "-t", threads, "--memory-limit", limit)
                self.assertEqual(json.dumps(got["columns"]), json.dumps(want["columns"]), f"-t {threads} {limit}")
                self.assertEqual(got["bytes_read"], want["bytes_read"])
        got = chunkinfo(path, "--stats", "-t", "2", "--memory-limit", "1G")
        self.assertEqual(json.dumps(got["columns"]), json.dumps(want["columns"]))
        os.remove(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
