"""CID + CAR throughput of metadata/unixfs.py + metadata/car.py on a synthetic collection.

A folder of N random files of ~200 KB (PNG-sized; random bytes do not compress, like PNGs),
measured over the same bytes, in one run:
  sha256      raw hashlib.sha256 over every file (the floor: read + hash, nothing else)
  cid         our UnixFS root CID, hash only (what `metadata` does)
  cid+car     our CID while writing the CARv1 in the same pass (what `publish` does)
  ipfs-car    `ipfs-car pack DIR --output x.car` (npm ipfs-car@3, tests/js), node start-up included
Our methods and sha256 run in alternating rounds and each figure is the median, so a machine
shared with other work slows all of them alike; "cpu" is the process CPU time (all threads),
the figure least moved by other processes. The roots of every method are checked equal, and the
CAR files byte-identical. The test files are flushed to disk (sync) and read once before timing,
so the numbers compare the code, not the disk or its write-back of the test data.

  .venv/bin/python benchmarks/cid.py                 # 10,000 x 200 KB = 2 GB
  .venv/bin/python benchmarks/cid.py --count 1000    # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metadata.car import write_tree_car  # noqa: E402
from metadata.unixfs import SHARD_THRESHOLD, add_tree, cid_str, tree_of_folder  # noqa: E402

IPFS_CAR = Path(__file__).resolve().parents[1] / "tests" / "js" / "node_modules" / ".bin" / "ipfs-car"


def make_collection(folder: Path, count: int, size: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    total = 0
    for i in range(1, count + 1):
        n = size + rng.randrange(-size // 10, size // 10)  # 180..220 KB, like real PNGs
        (folder / f"{i}.png").write_bytes(os.urandom(n))
        total += n
    return total


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measured(fn):
    """(wall seconds, process CPU seconds, result)."""
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def sha256_all(folder: Path) -> None:
    for p in sorted(folder.iterdir()):
        hashlib.sha256(p.read_bytes()).digest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of our methods and sha256 (median)")
    ap.add_argument("--no-ipfs-car", action="store_true", help="skip the npm comparison")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="roboz-cid-bench-"))
    try:
        images = work / "images"
        images.mkdir()
        total = make_collection(images, args.count, args.size)
        mb = total / 1e6
        sha256_all(images)  # warm the page cache
        tree = tree_of_folder(images)

        os.sync()  # the test data's write-back must not run under the timings

        methods = {
            "sha256": lambda: sha256_all(images),
            "cid": lambda: add_tree(tree),
            "cid+car": lambda: write_tree_car(tree, work / "ours.car"),
        }
        wall: dict[str, list[float]] = {m: [] for m in methods}
        cpu: dict[str, list[float]] = {m: [] for m in methods}
        roots = set()
        for _ in range(args.rounds):
            for name, fn in methods.items():
                w, c, res = measured(fn)
                wall[name].append(w)
                cpu[name].append(c)
                if res is not None:
                    roots.add(cid_str(res.root.cid))
        assert len(roots) == 1, f"methods disagree on the root: {roots}"
        root = roots.pop()
        rows = [(m, statistics.median(wall[m]), statistics.median(cpu[m])) for m in methods]
        if not args.no_ipfs_car:
            if not IPFS_CAR.exists():
                print("tests/js/node_modules missing: run `npm ci --prefix tests/js` (or pass --no-ipfs-car)", file=sys.stderr)
                return 1
            t, out = timed(lambda: subprocess.run([str(IPFS_CAR), "pack", str(images), "--output", str(work / "theirs.car")],
                                                  check=True, capture_output=True, text=True))
            rows.append(("ipfs-car", t, None))
            theirs = out.stdout.strip().splitlines()[-1]
            # ipfs-car shards past 1,000 entries, we past 256 KiB of links (metadata/unixfs.py):
            # between the two, both roots are valid but differ.
            links = sum(len(n) + 36 for n in tree)
            if args.count <= 1000 or links > SHARD_THRESHOLD:
                assert theirs == root, f"root mismatch: ipfs-car {theirs} vs ours {root}"
            elif theirs != root:
                print(f"note: {args.count} entries: ipfs-car shards (>1,000 entries), we do not "
                      f"({links:,} bytes of links <= 256 KiB): roots differ by design")
            same = (work / "ours.car").read_bytes() == (work / "theirs.car").read_bytes()
        base = {m: t for m, t, _ in rows}
        base_cpu = rows[0][2]
        print(f"{args.count:,} files, {mb:,.0f} MB, root {root}; {args.rounds} rounds (medians), "
              f"load average {os.getloadavg()[0]:.1f} at the end")
        print(f"{'method':<10} {'seconds':>8} {'MB/s':>8}  {'vs sha256':>9}  {'cpu s':>6}  {'cpu vs sha256':>13}  {'vs ipfs-car':>11}")
        for name, t, c in rows:
            vs_car = f"{base['ipfs-car'] / t:>10.2f}x" if "ipfs-car" in base else "-"
            cpu_txt = f"{c:>6.2f}  {base_cpu / c:>12.2f}x" if c else f"{'-':>6}  {'-':>13}"
            print(f"{name:<10} {t:>8.2f} {mb / t:>8.0f}  {base['sha256'] / t:>8.2f}x  {cpu_txt}  {vs_car:>11}")
        if "ipfs-car" in base:
            print(f"CAR files byte-identical to ipfs-car's: {same}")
        print("(ratios: >1x means faster than that baseline; 'vs sha256' <1x is the UnixFS + CAR overhead)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
