"""chunkinfo as a user sees it: exit statuses and one-line errors (missing, foreign, malformed, corrupt and
truncated inputs; bad usage), --help, text output, and the memory limit honoured in the process's peak RSS
(under the limit, not growing with the rows)."""
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ooc_testlib as T  # noqa: E402  (sets HDF5_PLUGIN_PATH before h5py is imported)

import numpy as np  # noqa: E402

h5py = T.h5py()
MiB = 1 << 20


setUpModule, tearDownModule, tmp = T.module_tempdir("cli_chunkinfo_")


def chunkinfo(*args):
    return T.run(["chunkinfo", *args])


def chunkgen(path, *args):
    status, _, err = T.chunkgen("-q", "-f", *args, path)
    if status != 0:
        raise AssertionError(f"chunkgen {path}: exit {status}: {err}")
    return path


def run_measured(*args):
    """chunkinfo ARGS: (status, stdout, stderr, peak RSS in bytes as the kernel counted it for the child)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([T.tool("chunkinfo"), *map(str, args)], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(), err.read().decode(), usage.ru_maxrss * 1024


def without_content_size(frame):
    """A zstd frame rewritten to leave its content size out (a window descriptor of 1 MiB instead)."""
    fhd = frame[4]
    single, dict_flag = (fhd >> 5) & 1, fhd & 3
    pos = 5 + (not single)
    dict_id = frame[pos:pos + (0, 1, 2, 4)[dict_flag]]
    pos += len(dict_id) + ((1 if single else 0), 2, 4, 8)[fhd >> 6]
    window = frame[5:6] if not single else bytes([10 << 3])
    return frame[:4] + bytes([fhd & 0b111]) + window + dict_id + frame[pos:]


class Errors(unittest.TestCase):
    """Each failure: the exit status, and one stderr line 'chunkinfo: error: ...' naming what is wrong."""

    @classmethod
    def setUpClass(cls):
        cls.path = tmp("shapes.h5")
        with h5py.File(cls.path, "w") as f:
            f["X"] = np.ones((4, 2))
            f["cube"] = np.zeros((2, 3, 4))
            f["vector"] = np.zeros(5)
            f["strings"] = np.array([[b"ab", b"cd"], [b"ef", b"gh"]])
            f.create_dataset("empty", shape=(0, 3), dtype="f8")
            f.create_dataset("no_columns", shape=(3, 0), dtype="f8")
            f.create_dataset("compound", data=np.zeros((3, 2), dtype=[("a", "f8"), ("b", "i4")]))
            f.create_group("group")
        cls.not_h5 = tmp("not.h5")
        with open(cls.not_h5, "w") as f:
            f.write("sample,feature\n1,2\n" * 100)

    def fails(self, args, status, *needles):
        got, out, err = chunkinfo(*args)
        self.assertNotIn("Segmentation", err)
        self.assertNotIn("Abort", err)
        self.assertNotIn("Sanitizer", err)
        line = T.assert_one_error(self, "chunkinfo", got, err, status, *needles)
        self.assertEqual(out, "", f"nothing on stdout after an error: {out!r}")
        return line

    def test_missing_file(self):
        missing = tmp("no_such_file.h5")
        for extra in ([], ["--stats"], ["--stats", "--json"]):
            self.fails([missing, *extra], 1, missing)
        self.fails([missing + ":/data"], 1, missing)

    def test_not_hdf5(self):
        self.fails([self.not_h5, "--stats"], 1, self.not_h5)
        self.fails([tmp()], 1, tmp(), "not a regular file")  # a directory

    def test_fifo(self):
        # HDF5 would wait for a writer for ever: refused before it opens the file.
        fifo = tmp("fifo.h5")
        os.mkfifo(fifo)
        for extra in ([], ["--stats"]):
            self.fails([fifo, *extra], 1, fifo, "not a regular file")

    def test_missing_dataset(self):
        self.fails([self.path + ":/nope", "--stats"], 1, self.path, "/nope")
        self.fails([self.path + ":/group/deeper/X"], 1, self.path, "/group/deeper/X")
        self.fails([self.path + ":/group"], 1, self.path, "/group")  # a group, not a dataset

    def test_default_dataset_missing(self):
        path = tmp("no_X.h5")
        with h5py.File(path, "w") as f:
            f["data"] = np.ones((3, 3))
        self.fails([path], 1, path, "/X")

    def test_wrong_rank_or_type(self):
        for name in ("/cube", "/vector", "/strings", "/compound"):
            for extra in ([], ["--stats", "--json"]):
                with self.subTest(name=name, extra=extra):
                    self.fails([self.path + ":" + name, *extra], 1, self.path, name)
        self.assertIn("3-D", self.fails([self.path + ":/cube"], 1))
        self.assertIn("1-D", self.fails([self.path + ":/vector"], 1))

    def test_empty(self):
        # Described as h5ls -v describes them (h5py's shape is the oracle); --stats has nothing to compute.
        for name, shape in (("/empty", [0, 3]), ("/no_columns", [3, 0])):
            with self.subTest(name=name):
                self.fails([self.path + ":" + name, "--stats"], 1, self.path, name, "empty")
                got, out, err = chunkinfo(self.path + ":" + name, "--json")
                self.assertEqual((got, err), (0, ""))
                self.assertEqual((json.loads(out)["shape"], json.loads(out)["raw_bytes"]), (shape, 0))

    def test_filter_not_available(self):
        # h5py's lzf (32000) has no HDF5 plugin here: described, the filter marked unavailable. lzf is an
        # optional filter: h5py skips it on chunks it cannot shrink (their filter mask says so), and HDF5
        # reads those without it, as h5dump does. --stats reads such chunks; a chunk lzf did shrink fails,
        # naming the chunk and the filter.
        rng = np.random.default_rng(5)
        x = rng.normal(size=(200, 3))
        x[150:] = 1.0  # chunk 3 compresses; chunks 0-2 (random doubles) do not
        p = tmp("lzf.h5")
        with h5py.File(p, "w") as f:
            f.create_dataset("X", data=x, chunks=(50, 3), compression="lzf")
            f.create_dataset("skipped", data=x[:150], chunks=(50, 3), compression="lzf")
            masks = [f["X"].id.get_chunk_info(i).filter_mask for i in range(4)]
        self.assertEqual(masks, [1, 1, 1, 0])
        got, out, err = chunkinfo(p, "--json")
        self.assertEqual((got, err), (0, ""))
        self.assertEqual(json.loads(out)["filters"], [{"name": "lzf", "id": 32000, "available": False}])
        got, out, err = chunkinfo(p)
        self.assertEqual(got, 0, err)
        self.assertIn("lzf(32000, not available)", out)
        self.fails([p, "--stats"], 1, p, "chunk 3 (rows 150..199)", "lzf")
        got, out, err = chunkinfo(p + ":/skipped", "--stats", "--json")
        self.assertEqual((got, err), (0, ""))
        np.testing.assert_allclose([c["mean"] for c in json.loads(out)["columns"]], x[:150].mean(axis=0), rtol=1e-12)

    def test_corrupt_chunk(self):
        """Bytes flipped inside a stored chunk: --stats fails naming it; the metadata alone still reads."""
        good = chunkgen(tmp("good.h5"), "-n", "10000", "-d", "4", "--chunk-rows", "1000", "--seed", "1")
        with h5py.File(good, "r") as f:
            where = [f["X"].id.get_chunk_info(i) for i in range(10)]
        for bad_chunks in ([3], [7, 3], [0], [9]):
            path = tmp("corrupt_%s.h5" % "_".join(map(str, bad_chunks)))
            with open(good, "rb") as f:
                data = bytearray(f.read())
            for i in bad_chunks:
                mid = where[i].byte_offset + where[i].size // 2
                for k in range(mid, mid + 16):
                    data[k] ^= 0xFF
            with open(path, "wb") as f:
                f.write(data)
            first = min(bad_chunks)
            for threads in ("1", "2", "3"):
                with self.subTest(chunks=bad_chunks, threads=threads):
                    line = self.fails([path, "--stats", "--json", "-t", threads], 1, path)
                    self.assertRegex(line, rf"\bchunk {first}\b")
            status, out, err = chunkinfo(path, "--json")
            self.assertEqual((status, err), (0, ""))
            self.assertEqual(json.loads(out)["shape"], [10000, 4])

    def test_chunk_marked_uncompressed(self):
        """A zstd chunk's filter mask says zstd was skipped (an optional filter's way of storing a chunk it
        cannot shrink). Stored whole (the shuffled bytes), it reads as its rows; stored short (its compressed
        bytes, the mask damaged), it is refused naming the chunk: HDF5 read past it, giving other numbers on
        every run and exit 0."""
        good = chunkgen(tmp("masked_src.h5"), "-n", "3000", "-d", "7", "--chunk-rows", "1000", "--seed", "2")
        with h5py.File(good, "r") as f:
            x = f["X"][:]
        for label, stored in (("whole", x[:1000].view(np.uint8).reshape(-1, 8).T.tobytes()), ("short", None)):
            path = tmp("masked_%s.h5" % label)
            shutil.copy(good, path)
            with h5py.File(path, "r+") as f:
                mask, compressed = f["X"].id.read_direct_chunk((0, 0))
                self.assertEqual(mask, 0)
                # Filter 1 (zstd) skipped. HDF5 1.10 keeps the old mask of a chunk rewritten at its old size,
                # hence the short chunk's extra byte.
                f["X"].id.write_direct_chunk((0, 0), stored or compressed + b"\0", filter_mask=2)
                self.assertEqual(f["X"].id.get_chunk_info(0).filter_mask, 2)
            with self.subTest(stored=label):
                if stored:
                    got, out, err = chunkinfo(path, "--stats", "--json")
                    self.assertEqual((got, err), (0, ""))
                    np.testing.assert_allclose([c["mean"] for c in json.loads(out)["columns"]], x.mean(axis=0),
                                               rtol=1e-12)
                else:
                    self.fails([path, "--stats"], 1, path, "chunk 0", "filter mask")

    def test_corrupt_chunk_other_layouts(self):
        """Corruption that HDF5's own filters detect (deflate, fletcher32): one line naming the file, where
        in it (the chunk or its rows) and the filter's reason."""
        x = np.random.default_rng(5).normal(size=(8000, 3))
        for label, kw, reason in (("gzip", {"compression": "gzip"}, "inflate"),
                                  ("fletcher32", {"fletcher32": True}, "Fletcher32"),
                                  ("zstd", {"compression": 32015, "compression_opts": (3,)}, "zstd")):
            path = tmp(f"corrupt_{label}.h5")
            with h5py.File(path, "w") as f:
                info = f.create_dataset("X", data=x, chunks=(1000, 3), **kw).id.get_chunk_info(5)
            with open(path, "r+b") as f:
                f.seek(info.byte_offset + info.size // 2)
                b = f.read(16)
                f.seek(info.byte_offset + info.size // 2)
                f.write(bytes(v ^ 0xA5 for v in b))
            # HDF5 reads on the worker threads too: its error stack must stay silent there (run a few times).
            for threads in ("1", "2", "2", "2", "3"):
                with self.subTest(label, threads=threads):
                    # As HDF5's own read failures are named, so are ours (zstd here is our layout's decoder).
                    self.fails([path, "--stats", "-t", threads], 1, f"{path}:/X: chunk 5 (rows 5000..5999): ",
                               reason)

    def test_damaged_chunk_shape(self):
        """A chunk shape beyond the dataset's fixed maximum (a damaged layout message: HDF5 1.10 read such a
        chunk past its decoded buffer and crashed, h5dump too) is refused before any read; a resizable
        dataset's chunks may be wider than its data, and that reads as numpy does."""
        x = np.random.default_rng(8).normal(size=(2000, 3))
        ours = chunkgen(tmp("shape_ours.h5"), "-n", "2000", "-d", "3", "--chunk-rows", "300")
        theirs = tmp("shape_gzip.h5")
        with h5py.File(theirs, "w") as f:
            f.create_dataset("X", data=x, chunks=(300, 3), compression="gzip", shuffle=True)
        for good in (ours, theirs):
            with open(good, "rb") as f:
                data = bytearray(f.read())
            dims = struct.pack("<III", 300, 3, 8)  # the layout message's chunk dimensions, then the element size
            self.assertEqual(data.count(dims), 1, good)
            at = data.find(dims)
            data[at + 4:at + 8] = struct.pack("<I", 29187)
            bad = good.replace(".h5", "_damaged.h5")
            with open(bad, "wb") as f:
                f.write(data)
            for extra in ([], ["--stats"], ["--stats", "-t", "1"]):
                with self.subTest(bad, extra=extra):
                    self.fails([bad, *extra], 1, bad, "300 x 29187", "3 columns")
            status, _, err = T.run(["kmeans-ooc", "fit", bad, "-k", "2", "-q"])
            T.assert_one_error(self, "kmeans-ooc", status, err, 1, bad, "damaged")
            # Past 4 GB a chunk, HDF5 itself refuses to open the dataset, and keeps something of the file it
            # cannot free: closing HDF5 at exit then printed "HDF5: infinite loop closing library" and a line
            # of its object types after our one line.
            data[at + 4:at + 8] = struct.pack("<I", 0xC10003)
            with open(bad, "wb") as f:
                f.write(data)
            with self.subTest(bad, chunk="over 4 GB"):
                self.fails([bad], 1, bad, "4GB")
                status, _, err = T.run(["kmeans-ooc", "fit", bad, "-k", "2", "-q"])
                T.assert_one_error(self, "kmeans-ooc", status, err, 1, bad, "4GB")
        wide = tmp("shape_resizable.h5")
        with h5py.File(wide, "w") as f:
            f.create_dataset("X", data=x, chunks=(300, 8), maxshape=(None, None), compression="gzip")
        status, out, err = chunkinfo(wide, "--stats", "--json")
        self.assertEqual((status, err), (0, ""))
        np.testing.assert_allclose([c["mean"] for c in json.loads(out)["columns"]], x.mean(axis=0), rtol=1e-12)

    def test_damaged_type_size(self):
        """A datatype message whose size is damaged (float32 read as 8 bytes a value, int32 labels as 8, 2 or
        1): HDF5 expects chunks of another size than the zstd frames hold and copied past the decoded buffer,
        so that the tools gave wrong numbers with exit 0 (AddressSanitizer: a heap overflow in H5Dread).
        Refused before any read, naming the chunk and both sizes."""
        good = chunkgen(tmp("type_f32.h5"), "-n", "1000", "-d", "3", "--dtype", "float32", "--chunk-rows", "100")
        labels = tmp("type_labels.h5")
        status, _, err = T.run(["kmeans-ooc", "fit", good, "-k", "2", "-q", "--labels", labels])
        self.assertEqual(status, 0, err)
        # The datatype messages: float32 (class 1, little-endian IEEE, 4 bytes), int32 (class 0, signed, 4)
        for path, message, sizes in ((good, bytes([0x11, 0x20, 0x1F, 0, 4, 0, 0, 0]), (8,)),
                                     (labels, bytes([0x10, 0x08, 0, 0, 4, 0, 0, 0]), (8, 2, 1))):
            with open(path, "rb") as f:
                data = bytearray(f.read())
            self.assertEqual(data.count(message), 1, path)
            at = data.find(message)
            for size in sizes:
                data[at + 4] = size
                bad = path.replace(".h5", "_%d.h5" % size)
                with open(bad, "wb") as f:
                    f.write(data)
                with self.subTest(bad):
                    if path == good:
                        self.fails([bad, "--stats"], 1, bad, "the chunk at row 0 decodes to 1200 bytes",
                                   "take %d" % (300 * size), "damaged")
                        argv = ["kmeans-ooc", "fit", bad, "-k", "2", "-q"]
                    else:
                        argv = ["kmeans-ooc", "labels", bad]
                    status, out, err = T.run(argv)
                    T.assert_one_error(self, "kmeans-ooc", status, err, 1, bad, "decodes to", "damaged")
                    self.assertEqual(out, "")
        # A frame that does not record its size (as zstd's command line writes from a pipe) is decoded to
        # learn it: int32 labels, chunk 0 rewritten so, then read as 8 bytes a value.
        rewritten = tmp("type_labels_no_size.h5")
        shutil.copy(labels, rewritten)
        with h5py.File(rewritten, "r+") as f:
            mask, frame = f["labels"].id.read_direct_chunk((0,))
            f["labels"].id.write_direct_chunk((0,), without_content_size(frame), filter_mask=mask)
        with h5py.File(rewritten, "r") as f, h5py.File(labels, "r") as g:
            np.testing.assert_array_equal(f["labels"][...], g["labels"][...])  # still valid: HDF5 reads it
        with open(rewritten, "rb") as f:
            data = bytearray(f.read())
        message = bytes([0x10, 0x08, 0, 0, 4, 0, 0, 0])
        self.assertEqual(data.count(message), 1)
        data[data.find(message) + 4] = 8
        bad = tmp("type_labels_no_size_8.h5")
        with open(bad, "wb") as f:
            f.write(data)
        status, out, err = T.run(["kmeans-ooc", "labels", bad])
        T.assert_one_error(self, "kmeans-ooc", status, err, 1, bad, "decodes to 4000 bytes", "take 8000")
        # Not damage: zstd's frames holding what another filter made of a chunk (scaleoffset's packed integers,
        # fewer bytes than the chunk) read as numpy reads them.
        packed = tmp("scaleoffset_zstd.h5")
        x = np.random.default_rng(3).integers(0, 100, (1000, 3)).astype("<i4")
        with h5py.File(packed, "w") as f:
            f.create_dataset("X", data=x, chunks=(100, 3), scaleoffset=0, compression=32015)
        status, out, err = chunkinfo(packed, "--stats", "--json")
        self.assertEqual((status, err), (0, ""))
        np.testing.assert_allclose([c["mean"] for c in json.loads(out)["columns"]], x.mean(axis=0), rtol=1e-12)

    def test_damaged_shape(self):
        """More rows than the dataset's fixed maximum (a damaged dataspace message: HDF5 opens it and reads
        fill values for every row it claims, 10^11 in a fuzzed file) is refused before any read."""
        good = tmp("rows_max.h5")
        with h5py.File(good, "w") as f:
            f.create_dataset("X", data=np.ones((700, 3)), maxshape=(900, 3), chunks=(100, 3))
        with open(good, "rb") as f:
            data = bytearray(f.read())
        dims = struct.pack("<QQQQ", 700, 3, 900, 3)  # the dataspace message: dimensions, then their maxima
        self.assertEqual(data.count(dims), 1)
        at = data.find(dims)
        data[at:at + 8] = struct.pack("<Q", 10**11)
        bad = tmp("rows_max_damaged.h5")
        with open(bad, "wb") as f:
            f.write(data)
        with h5py.File(bad, "r") as f:
            self.assertEqual(f["X"].shape, (10**11, 3))  # HDF5 itself takes it
        for extra in ([], ["--stats"]):
            with self.subTest(extra=extra):
                self.fails([bad, *extra], 1, bad, "100000000000 rows", "900 at most", "damaged")
        status, _, err = T.run(["kmeans-ooc", "fit", bad, "-k", "2", "-q"])
        T.assert_one_error(self, "kmeans-ooc", status, err, 1, bad, "damaged")

    def test_truncated(self):
        good = chunkgen(tmp("whole.h5"), "-n", "20000", "-d", "5", "--chunk-rows", "2000")
        path = tmp("truncated.h5")
        with open(good, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) * 6 // 10])
        self.fails([path, "--stats"], 1, path)
        self.fails([path, "--stats", "--json", "-t", "1"], 1, path)
        self.fails([path], 1, path)
        empty = tmp("zero_bytes.h5")
        open(empty, "wb").close()
        self.fails([empty, "--stats"], 1, empty)

    def test_bad_usage(self):
        path = self.path
        cases = [
            ([], "INPUT"),
            ([path, path], None),
            (["-t", "0", path], "-t"),
            (["--threads", "0", path], "--threads"),
            (["-t", "x", path], "-t"),
            (["-t", "-2", path], "-t"),
            (["--memory-limit", "abc", path], "--memory-limit"),
            (["--memory-limit", "0", path], "--memory-limit"),
            (["--memory-limit", "99999999999G", path], "--memory-limit"),
            (["--bogus", path], "--bogus"),
            (["-Z", path], "-Z"),
            ([path, "--stats", "-t"], None),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                line = self.fails(args, 2)
                if needle:
                    # The option by name, whichever spelling the user typed.
                    self.assertTrue(needle in line or needle.lstrip("-") in line, line)

    def test_bad_usage_checked_before_reading(self):
        """A bad option value is bad usage even when the input does not exist."""
        self.fails(["-t", "0", tmp("absent.h5"), "--stats"], 2)
        self.fails(["--memory-limit", "lots", tmp("absent.h5")], 2)

    def test_malformed_blobs(self):
        """A malformed blobs: spec is bad usage (exit 2), as a bad option value is: one line naming the bad
        item, before any data is made."""
        for spec, needle in (("blobs:samples=x", "samples"), ("blobs:foo=1", "foo"),
                             ("blobs:samples=10,samples=20", "samples"), ("blobs:features=0", "features"),
                             ("blobs:dtype=int8", "dtype"), ("blobs:samples=1e400", "samples"),
                             ("blobs:samples=1e18,features=10", "overflows"), ("blobs:samples=100,,seed=1", None)):
            with self.subTest(spec):
                got, out, err = chunkinfo(spec, "--stats")
                T.assert_one_error(self, "chunkinfo", got, err, 2, *([needle] if needle else []))
                self.assertEqual(out, "")


class Output(unittest.TestCase):
    def test_help(self):
        for flag in ("--help", "-h"):
            status, out, err = chunkinfo(flag)
            self.assertEqual((status, err), (0, ""))
            self.assertIn("Usage: chunkinfo", out)
            for option in ("--stats", "--json", "--threads", "--memory-limit"):
                self.assertIn(option, out)
            for line in out.splitlines():
                if re.match(r"\s+(-t, )?--(threads|memory-limit)\b", line):
                    self.assertIn("[default: ", line)

    def test_version(self):
        status, out, err = chunkinfo("--version")
        self.assertEqual((status, err), (0, ""))
        self.assertRegex(out, r"^chunkinfo .*\d")

    def test_text_output(self):
        path = chunkgen(tmp("text.h5"), "-n", "3000", "-d", "7", "--chunk-rows", "1000")
        status, out, err = chunkinfo(path)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("shape", out)
        self.assertRegex(out, r"\b3000 x 7\b")
        self.assertIn("float64", out)
        self.assertIn("shuffle", out)
        self.assertIn("zstd", out)
        self.assertIn("1000 x 7", out)  # the storage chunks
        status, out2, err = chunkinfo(path, "--stats", "-t", "2")
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(out2.startswith(out.rstrip("\n")), out2)
        self.assertIn("mean", out2)
        self.assertIn("first non-finite row: none", out2)
        status, out3, err = chunkinfo("blobs:samples=500,features=2,chunk_rows=100", "--stats")
        self.assertEqual((status, err), (0, ""))
        self.assertRegex(out3, r"\b500 x 2\b")

    def test_json_without_stats(self):
        path = chunkgen(tmp("json.h5"), "-n", "3000", "-d", "7", "--chunk-rows", "1000")
        status, out, err = chunkinfo(path, "--json")
        self.assertEqual((status, err), (0, ""))
        info = json.loads(out)
        for key in ("input", "shape", "dtype", "byte_order", "layout", "chunks", "processing_chunk_rows",
                    "processing_chunks", "filters", "stored_bytes", "raw_bytes"):
            self.assertIn(key, info)
        self.assertNotIn("columns", info)
        self.assertEqual(info["processing_chunks"], 3)

    def test_nonfinite_is_reported_not_an_error(self):
        path = tmp("nan.h5")
        x = np.ones((100, 3))
        x[42, 1] = np.nan
        with h5py.File(path, "w") as f:
            f["X"] = x
        status, out, err = chunkinfo(path, "--stats", "--json")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out)["first_nonfinite_row"], 42)
        status, out, err = chunkinfo(path, "--stats")
        self.assertEqual((status, err), (0, ""))
        self.assertIn("first non-finite row: 42", out)

    def test_standard_output_full(self):
        inp = chunkgen(tmp("full-stdout.h5"), "-n", 1000)
        for args in ([inp], [inp, "--json", "--stats"], ["--help"]):
            with self.subTest(args=args[1:]):
                status, err = T.run_into_full(["chunkinfo", *args])
                T.assert_one_error(self, "chunkinfo", status, err, 1, "standard output", "No space left on device")


class MemoryLimit(unittest.TestCase):
    """--memory-limit bounds the process, whatever the size of the data."""

    LIMIT = 128 * MiB
    SLACK = 16 * MiB

    @classmethod
    def setUpClass(cls):
        # 8 MB chunks (50,000 rows x 20 float64): 96 MB and 384 MB of data, against a 128 MiB limit.
        cls.small = chunkgen(tmp("rows_600k.h5"), "-n", "600k", "-d", "20", "--chunk-rows", "50000", "-t", "2")
        cls.big = chunkgen(tmp("rows_2400k.h5"), "-n", "2400k", "-d", "20", "--chunk-rows", "50000", "-t", "2")
        tiny = chunkgen(tmp("tiny.h5"), "-n", "1000", "-d", "20", "--chunk-rows", "500")
        status, _, err, cls.baseline = run_measured(tiny, "--stats", "--json", "-t", "2", "--memory-limit", "128M")
        assert status == 0, err

    def stats(self, path, limit, threads="2"):
        status, out, err, rss = run_measured(path, "--stats", "--json", "-q", "-t", threads, "--memory-limit", limit)
        self.assertEqual((status, err), (0, ""), path)
        info = json.loads(out)
        # The tool's own report (its VmHWM) agrees with the kernel's count for the child, within the pages
        # the kernel's per-thread RSS counters had not yet folded in. The count starts from this test process's
        # own peak, which the child had when forked (it survives exec): below that it says nothing.
        self.assertLessEqual(info["peak_rss_bytes"], rss + MiB)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if not T.SANITIZED and rss > own:  # LeakSanitizer's check at exit grows the process after its report
            self.assertGreaterEqual(info["peak_rss_bytes"], 0.9 * rss)
        return info, rss

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_peak_under_limit(self):
        info, rss = self.stats(self.big, "128M")
        self.assertEqual(info["memory_limit"], self.LIMIT)
        self.assertEqual(info["processing_chunks"], 48)
        self.assertLessEqual(rss, self.baseline + self.LIMIT + self.SLACK,
                             f"peak RSS {rss / MiB:.1f} MiB; baseline {self.baseline / MiB:.1f} MiB + 128 MiB limit")
        _, rss = self.stats(self.big, "128M", "1")
        self.assertLessEqual(rss, self.baseline + self.LIMIT + self.SLACK, "-t 1")

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_one_pass_caches_nothing(self):
        """Data that would fit under the limit is not kept: the one pass never reads a chunk twice, so a cache
        would only hold memory (96 MB here, 1.3 GB for 16M x 20 float32) and take the time to touch it."""
        info, rss = self.stats(self.small, "1G")
        self.assertEqual(info["processing_chunks"], 12)
        self.assertLessEqual(rss, self.baseline + info["working_bytes"] + self.SLACK)
        self.assertLess(rss - self.baseline, 96e6 / 2, f"peak RSS {rss / MiB:.1f} MiB, baseline {self.baseline / MiB:.1f}")
        self.assertNotIn("chunks_cached", info)

    @unittest.skipIf(T.SANITIZED, "peak RSS under AddressSanitizer is its shadow memory and quarantine")
    def test_peak_does_not_grow_with_rows(self):
        small_info, small = self.stats(self.small, "128M")
        big_info, big = self.stats(self.big, "128M")
        self.assertLessEqual(abs(big - small), 0.1 * max(big, small),
                             f"peak RSS {small / MiB:.1f} MiB for 0.6M rows, {big / MiB:.1f} MiB for 2.4M rows")

    def test_limit_too_small(self):
        """A limit that cannot hold the working buffers: a failure while running (exit 1), naming the option;
        checked before any chunk is read, and not bad usage: the size is only too small for this input."""
        for threads in ("1", "2"):
            status, out, err, _ = run_measured(self.big, "--stats", "-t", threads, "--memory-limit", "1M")
            T.assert_one_error(self, "chunkinfo", status, err, 1, "--memory-limit", self.big)
            self.assertEqual(out, "")
        # Room for one thread's buffers but not two: with -t left to it the tool runs on one thread (same
        # statistics); asked for two it says so.
        def stats_json(*args):
            status, out, err = chunkinfo(self.big, "--stats", "--json", *args)
            self.assertEqual((status, err), (0, ""))
            return json.loads(out)
        one, two = (stats_json("-t", t)["working_bytes"] for t in ("1", "2"))
        limit = f"{(one + two) // 2 // 1024}K"
        auto = stats_json("--memory-limit", limit)
        self.assertEqual(auto["threads"], 1)
        self.assertEqual(json.dumps(auto["columns"]), json.dumps(stats_json("-t", "2")["columns"]))
        status, out, err, _ = run_measured(self.big, "--stats", "-t", "2", "--memory-limit", limit)
        line = T.assert_one_error(self, "chunkinfo", status, err, 1, "--memory-limit", self.big)
        self.assertIn("lower --threads", line)
        # Without --stats there is no pass, so no working buffers and no error.
        status, out, err = chunkinfo(self.big, "--memory-limit", "1M")
        self.assertEqual((status, err), (0, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
