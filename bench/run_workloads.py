"""The workloads of issue 5: which data, which k, and how the runs stop.

A workload is one dataset (blobs made by chunkgen: rows, features, blobs = k, dtype, seed 0) clustered with
k = the number of blobs. `max_iter` None means each system's own convergence (ooc and scikit-learn: tol
1e-4, at most 300 iterations); a number N means an equal-iteration comparison (ooc --max-iter N --tol 0,
scikit-learn max_iter=N tol=0). faiss has no convergence test: it always runs the iterations ooc ran.
In equal-iteration workloads ooc starts, as faiss does, from k random rows (`init` "random"): the comparison
is of the iterations, not of k-means||, whose cost the origin workloads show. `threads_scaling` adds an ooc
cached run with one thread. `chunk_rows`: chunkgen's 200,000 for the origin's shape; wider rows get chunks
of about 25 MB (as one would choose: 200,000 rows of 128 floats would make 100 MB chunks, and a chunk per
thread, decoded and stored, must fit the streaming runs' 256 MiB).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    family: str  # origin, wide, many
    rows: int
    features: int
    k: int
    dtype: str  # float64 | float32
    max_iter: int | None = None
    threads_scaling: bool = False
    init: str | None = None  # ooc's --init, when not its default k-means||
    chunk_rows: int = 200_000

    @property
    def name(self):
        dt = "f64" if self.dtype == "float64" else "f32"
        return f"{self.family}-{count(self.rows)}-d{self.features}-k{self.k}-{dt}"

    @property
    def raw_bytes(self):
        return self.rows * self.features * (8 if self.dtype == "float64" else 4)


def count(n):
    """2000000 -> '2M', 500000 -> '500k': as chunkgen accepts them."""
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n % div == 0:
            return f"{n // div}{suffix}"
    return str(n)


def origin(rows, k, dtype, scaling=False):
    return Workload("origin", rows, 20, k, dtype, None, scaling)


def full():
    """Issue 5's list: the origin's shape at 2M, 10M and 20M rows; wide; many clusters."""
    w = [origin(n, k, dt, scaling=(k == 8 and dt == "float64"))
         for dt in ("float64", "float32") for n in (2_000_000, 10_000_000, 20_000_000) for k in (8, 12)]
    w.append(equal_iterations("wide", 1_000_000, 128, 256, "float32", 20))
    w.append(equal_iterations("many", 1_000_000, 32, 1000, "float64", 20))
    return w


def equal_iterations(family, rows, features, k, dtype, iters):
    """24.4 MiB chunks: 50,000 rows of 128 float32, 100,000 of 32 float64."""
    row_bytes = features * (8 if dtype == "float64" else 4)
    return Workload(family, rows, features, k, dtype, max_iter=iters, init="random",
                    chunk_rows=(25 << 20) // row_bytes // 10_000 * 10_000)


def quick():
    """A few minutes: the origin's shape at 2M (and 0.5M, 1M for the row scaling), small wide and many."""
    w = [origin(n, 8, "float64", scaling=True) for n in (500_000, 1_000_000, 2_000_000)]
    w += [origin(2_000_000, 12, "float64"), origin(2_000_000, 8, "float32"), origin(2_000_000, 12, "float32")]
    w.append(equal_iterations("wide", 100_000, 128, 256, "float32", 10))
    w.append(equal_iterations("many", 100_000, 32, 1000, "float64", 10))
    return w
