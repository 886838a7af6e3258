"""The chart: per workload, grouped bars for ooc cached, ooc streaming (also from k-means|| where the workload starts
from random rows), scikit-learn and faiss of (1) the Lloyd
iteration time with the floors as lines across the group, (2) the whole fit, (3) peak RSS with the 300 MB line.
Log scales: the workloads span three orders of magnitude."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

BARS = (("ooc-cached", "ooc cached", "#1f77b4"), ("ooc-stream", "ooc streaming (--memory-limit 256M)", "#9ecae1"),
        ("ooc-stream-default", "ooc streaming from k-means|| (wide, many)", "#6a51a3"),
        ("sklearn", "scikit-learn (float64, in memory)", "#ff7f0e"), ("faiss", "faiss (float32, in memory)", "#2ca02c"))
FLOORS = (("read_decompress_s", "read-and-decompress floor (streaming)", "--"),
          ("membw_s", "memory-bandwidth floor", ":"),
          ("gemm_s", "GEMM floor (data's dtype)", "-."))
WIDTH = 0.16


def _value(r, system, key):
    s = r["systems"].get(system)
    return None if s is None or "error" in s else s.get(key)


def _log_axis(ax, unit):
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(unit)
    ax.grid(axis="y", which="major", alpha=0.3)


def _shown(results):
    """The systems of BARS that ran in at least one workload (ooc-stream-default: in those from random rows)."""
    return [b for b in BARS if any(b[0] in r["systems"] for r in results)]


def _bars(ax, results, key, scale=1.0):
    bars = _shown(results)
    for i, (system, label, color) in enumerate(bars):
        xs = [j + (i - (len(bars) - 1) / 2) * WIDTH for j in range(len(results))]
        vs = [_value(r, system, key) for r in results]
        ax.bar([x for x, v in zip(xs, vs) if v is not None], [v * scale for v in vs if v is not None], WIDTH,
               color=color, label=label)
        for x, v, r in zip(xs, vs, results):
            if v is None and system in r["systems"]:
                ax.text(x, 0.03, "failed", rotation=90, ha="center", va="bottom", fontsize=8, color="#c00000",
                        transform=ax.get_xaxis_transform())


def draw(doc, path):
    results = doc["results"]
    fig, axes = plt.subplots(3, 1, figsize=(max(10.0, 1.1 * len(results) + 3), 13), sharex=True)
    ax = axes[0]
    _bars(ax, results, "per_iter_s")
    labelled, half = set(), len(_shown(results)) / 2 * WIDTH
    for j, r in enumerate(results):
        for key, label, style in FLOORS:
            v = r["floors"].get(key)
            if v:
                ax.hlines(v, j - half, j + half, colors="black", linestyles=style, linewidth=1.5,
                          label=None if label in labelled else label)
                labelled.add(label)
    _log_axis(ax, "seconds per iteration")
    ax.set_title("Lloyd iteration (median), lower is better; black lines: floors measured in the same run")
    ax = axes[1]
    _bars(ax, results, "fit_s")
    _log_axis(ax, "seconds")
    ax.set_title("Whole fit: ooc from the zstd file, labels written; the peers on data already in memory")
    ax = axes[2]
    _bars(ax, results, "rss_bytes", 1e-6)
    ax.axhline(300, color="#c00000", linestyle="--", linewidth=1, label="300 MB: streaming target")
    _log_axis(ax, "MB")
    ax.set_title("Peak resident memory of each process")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([r["workload"]["name"] for r in results], rotation=30, ha="right", fontsize=9)
    # One legend for the figure: the systems, then the floors (first panel), then the 300 MB line (last panel).
    found = dict(zip(*reversed(axes[0].get_legend_handles_labels()))) | dict(
        zip(*reversed(axes[2].get_legend_handles_labels())))
    order = [b[1] for b in BARS] + [f[1] for f in FLOORS] + ["300 MB: streaming target"]
    labels = [lab for lab in order if lab in found]
    fig.legend([found[lab] for lab in labels], labels, loc="upper center", ncol=3, fontsize=9, bbox_to_anchor=(0.5, 0.97))
    fig.suptitle(f"bench/run {doc['name']}: ooc against scikit-learn and faiss, {doc['threads']} threads, "
                 f"{doc['machine']['cpu']}, {doc['machine']['nproc']} CPUs", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=100)
    plt.close(fig)
