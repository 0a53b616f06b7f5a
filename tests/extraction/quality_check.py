#!/usr/bin/python3
"""Scores the extractor on annotated corpora and fails when a figure drops below its floor.

usage: quality_check.py --driver BIN --data DIR --scorer score.py --floor quality_floor.txt
                        --corpus NAME=PATH [--corpus NAME=PATH ...]
                        [--command "{driver} --data {data} {items}"]

Gold fields are stripped before extraction exactly as ../shared/hooks/before-stop does, the
driver writes one Stance per line (proto3 JSON), and the scorer's --json figures are compared
with quality_floor.txt ("CORPUS METRIC FLOOR" per line). A corpus file that does not exist is
reported and skipped; if every corpus is missing the test is skipped (exit code 77).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile


def strip(src, dst):
    with open(dst, "w", encoding="utf-8") as out:
        for line in open(src, encoding="utf-8"):
            if not line.strip():
                continue
            g = json.loads(line)
            item = {"id": g["id"], "outlet": g.get("outlet", ""), "title": g.get("title", ""),
                    "text": g["text"]}
            if g.get("published"):
                item["published"] = g["published"] + "T00:00:00Z"
            out.write(json.dumps(item, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--scorer", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--command", default="{driver} --data {data} {items}")
    args = ap.parse_args()

    floors = {}
    for n, line in enumerate(open(args.floor, encoding="utf-8"), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        corpus, metric, value = line.split()
        floors[(corpus, metric)] = float(value)

    failures, scored = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.corpus:
            name, path = spec.split("=", 1)
            if not os.path.exists(path):
                print(f"{name}: {path} not found, skipped")
                continue
            items, pred = os.path.join(tmp, name + ".items"), os.path.join(tmp, name + ".pred")
            strip(path, items)
            cmd = args.command.format(driver=shlex.quote(args.driver), data=shlex.quote(args.data),
                                      items=shlex.quote(items))
            with open(pred, "w") as out:
                run = subprocess.run(cmd, shell=True, stdout=out, stderr=subprocess.PIPE, text=True,
                                     timeout=60)
            if run.returncode != 0:
                failures.append(f"{name}: driver failed ({run.returncode}): {run.stderr[-500:]}")
                continue
            score = subprocess.run([sys.executable, args.scorer, path, pred, "--json", "--verbose"],
                                   capture_output=True, text=True, timeout=60)
            if score.returncode != 0:
                failures.append(f"{name}: scorer failed: {score.stderr[-500:]}")
                continue
            lines = score.stdout.strip().splitlines()
            figures = json.loads(lines[-1])
            scored += 1
            got = {"strict_f1": figures["strict"]["f1"], "condition_f1": figures["conditions"]["f1"],
                   "detection_f1": figures["detection"]["f1"],
                   "evidence_overlap": figures["evidence"]["overlap"]}
            print(f"{name}: " + " ".join(f"{k}={v}" for k, v in got.items()))
            for miss in lines[:-1]:
                print(f"  {miss}")
            for (corpus, metric), floor in floors.items():
                if corpus == name and got.get(metric, 0.0) + 1e-9 < floor:
                    failures.append(f"{name}: {metric}={got.get(metric)} is below the floor {floor}")
    for f in failures:
        print("FAIL " + f)
    if failures:
        return 1
    return 0 if scored else 77


if __name__ == "__main__":
    sys.exit(main())
