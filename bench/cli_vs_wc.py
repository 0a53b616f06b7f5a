#!/usr/bin/env python3
"""`ingest-service extract` as users run it (JSON Lines file in, JSON Lines out) next to `wc -w`
over the same text, in the same run (docs/extraction.md, "Throughput").

Builds a JSON Lines file of at least --mb MB of text by repeating the seed items under distinct
ids, then alternates extract and `wc -w` --runs times and prints the medians of CPU time (user +
sys of the child: the machine is shared, so wall time is noisy) and their ratio.

  bench/cli_vs_wc.py --driver build/ingest-service/ingest-service --data data \\
      --seed tests/extraction/newswire.jsonl [--seed ...] [--mb 10] [--runs 5]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

FIELDS = ("id", "url", "outlet", "title", "text", "published", "language")


def load_items(paths):
    items = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                g = json.loads(line)
                item = {k: g[k] for k in FIELDS if g.get(k)}
                if "published" in item and "T" not in item["published"]:
                    item["published"] += "T00:00:00Z"  # corpus dates are plain days
                items.append(item)
    if not items:
        sys.exit("no seed items")
    return items


def cpu_seconds(argv, stdout):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=stdout, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", required=True, help="the ingest-service binary")
    ap.add_argument("--data", required=True, help="--data-dir for extract")
    ap.add_argument("--seed", action="append", required=True, help="JSON Lines of items")
    ap.add_argument("--mb", type=float, default=10.0, help="MB of text, at least")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    items = load_items(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl, txt = os.path.join(tmp, "items.jsonl"), os.path.join(tmp, "items.txt")
        text_bytes, n, rep = 0, 0, 0
        with open(jsonl, "w", encoding="utf-8") as j, open(txt, "w", encoding="utf-8") as t:
            while text_bytes < args.mb * 1e6:
                for g in items:
                    h = dict(g, id=f"{g['id']}-r{rep}")
                    j.write(json.dumps(h, ensure_ascii=False) + "\n")
                    t.write(g["text"] + "\n")
                    text_bytes += len(g["text"].encode("utf-8"))
                    n += 1
                rep += 1
        extract, wc = [], []
        with open(os.devnull, "w") as null:
            for _ in range(args.runs):
                extract.append(cpu_seconds(
                    [args.driver, "extract", "--data-dir", args.data, jsonl], null))
                wc.append(cpu_seconds(["wc", "-w", txt], null))
        mb = text_bytes / 1e6
        e, w = statistics.median(extract), statistics.median(wc)
        print(f"input: {mb:.1f} MB of text in {n} items, "
              f"{os.path.getsize(jsonl) / 1e6:.1f} MB of JSON Lines")
        print(f"extract: {e:.2f} s CPU (median of {args.runs}): {mb / e:.1f} MB/s")
        print(f"wc -w: {w:.2f} s CPU (median of {args.runs}): {mb / w:.1f} MB/s")
        print(f"ratio extract / wc -w time (CPU): {e / w:.1f}")


if __name__ == "__main__":
    main()
