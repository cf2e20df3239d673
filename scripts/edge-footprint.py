"""The line-side inspector's footprint: resident memory and per-image latency.

    # with the full install (torch): teach a model, write its edge bundle and test images
    .venv/bin/python scripts/edge-footprint.py prepare DIR [--images 100] [--size 256]
    # with the slim install (scripts/edge-venv.sh): load the bundle, inspect, report JSON
    OMP_NUM_THREADS=1 EDGE/bin/python scripts/edge-footprint.py measure DIR

``measure`` imports only the torch-free modules and fails if torch & co. were loaded.
Memory is the process's VmRSS / VmHWM (peak) from /proc/self/status; latency is the
wall time of ``OnnxInspector.inspect`` on one image at a time (one onnxruntime thread),
and of PNG decode + inspect.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HEAVY = ["torch", "faiss", "scipy", "sklearn", "sqlalchemy", "lightgbm", "ray"]


def prepare(folder: Path, count: int, size: int) -> None:
    """Teach an inspector (default settings, two defect types) and write the bundle and
    ``count`` test images (one in ten a defect) to ``folder``."""
    import io

    from PIL import Image

    from dure.models.vision.edge_bundle import edge_bundle
    from dure.models.vision.inspector import Inspector, TeachingSet
    from dure.services.demo.sheet_metal import sheet_image

    def px(seed: int, label: str):  # noqa: ANN202
        return sheet_image(seed, label, size).pixels

    defects = [(s, lab) for lab in ("scratch", "dent") for s in range(300, 304)]
    inspector = Inspector({"image_size": size, "coreset_ratio": 0.1}).fit(
        TeachingSet(
            good=[px(k, "good") for k in range(20)],
            held_out_good=[px(100 + k, "good") for k in range(8)],
            defects=[px(s, lab) for s, lab in defects],
            defect_labels=[lab for _, lab in defects],
        )
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bundle.tar").write_bytes(edge_bundle(inspector))
    images = folder / "images"
    images.mkdir(exist_ok=True)
    kinds = ["scratch", "dent", "rust"]
    for k in range(count):
        label = kinds[(k // 10) % 3] if k % 10 == 9 else "good"
        out = io.BytesIO()
        Image.fromarray(px(1000 + k, label)).save(out, format="PNG")
        (images / f"{k:04d}-{label}.png").write_bytes(out.getvalue())
    print(f"wrote {folder / 'bundle.tar'} and {count} images of {size}x{size} px")


def _status() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return fields


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "n": len(values),
        "p50": round(_percentile(values, 50), 2),
        "p99": round(_percentile(values, 99), 2),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(folder: Path, threads: int) -> dict[str, object]:
    """Load the bundle, inspect every image one at a time; memory and latency figures."""
    import numpy as np
    from PIL import Image

    from dure.models.vision.onnx_inspector import OnnxInspector

    imported = _status()
    bundle = (folder / "bundle.tar").read_bytes()
    started = time.perf_counter()
    edge = OnnxInspector.from_bundle(bundle, threads=threads)
    load_s = time.perf_counter() - started
    loaded = _status()
    inspect_ms, total_ms, verdicts = [], [], []
    for path in sorted((folder / "images").glob("*.png")):
        t0 = time.perf_counter()
        image = np.asarray(Image.open(path))
        t1 = time.perf_counter()
        (found,) = edge.inspect([image], [path.name])
        t2 = time.perf_counter()
        inspect_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
        verdicts.append((path.name, found.is_defect, found.defect_type))
    done = _status()
    heavy = [m for m in HEAVY if m in sys.modules]
    if heavy:
        raise SystemExit(f"the edge imported {heavy}")
    steady = inspect_ms[1:]  # the first run warms onnxruntime's arenas
    return {
        "images": len(inspect_ms),
        "threads": threads,
        "bundle_mb": round(len(bundle) / 2**20, 2),
        "load_seconds": round(load_s, 3),
        "rss_mb": {
            "after_imports": round(imported["VmRSS"], 1),
            "after_load": round(loaded["VmRSS"], 1),
            "after_images": round(done["VmRSS"], 1),
            "peak": round(done["VmHWM"], 1),
        },
        "inspect_ms": {
            "first": round(inspect_ms[0], 2),
            "p50": round(_percentile(steady, 50), 2),
            "p99": round(_percentile(steady, 99), 2),
            "max": round(max(steady), 2),
        },
        # a flagged image also runs the defect-type graph (three views): the slow tail
        "inspect_ms_passed": _summary(
            [ms for ms, v in zip(inspect_ms, verdicts, strict=True) if not v[1]]
        ),
        "inspect_ms_flagged": _summary(
            [ms for ms, v in zip(inspect_ms, verdicts, strict=True) if v[1]]
        ),
        "decode_and_inspect_ms": {
            "p50": round(_percentile(total_ms[1:], 50), 2),
            "p99": round(_percentile(total_ms[1:], 99), 2),
        },
        "flagged": sum(1 for _, d, _ in verdicts if d),
        "typed": sum(1 for *_, t in verdicts if t),
        "torch_free": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("folder", type=Path)
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--size", type=int, default=256)
    m = sub.add_parser("measure")
    m.add_argument("folder", type=Path)
    m.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.folder, args.images, args.size)
    else:
        print(json.dumps(measure(args.folder, args.threads), indent=1))


if __name__ == "__main__":
    main()
