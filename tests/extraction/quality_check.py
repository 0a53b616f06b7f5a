#!/usr/bin/python3
"""Scores the extractor on annotated corpora and fails when a figure drops below its floor.

usage: quality_check.py --driver BIN --data DIR --scorer score.py --floor quality_floor.txt
                        --corpus NAME=PATH [--corpus NAME=PATH ...] [--cv NAME=cv.py]
                        [--command "{driver} --data {data} {items}"]

Gold fields are stripped before extraction exactly as ../shared/hooks/before-stop does, the
driver writes one Stance per line (proto3 JSON), and the scorer's --json figures are compared
with quality_floor.txt ("CORPUS METRIC FLOOR" per line). A corpus file that does not exist is
reported and skipped; if every corpus is missing the test is skipped (exit code 77).

Where the shared scorer is missing (a fresh clone has no ../shared), the project's own corpora
are scored by the built-in scorer below: the same strict / condition / detection matching,
without evidence and topic figures. --cv scores the real-news train corpus by its fixed folds
(../shared/eval/cv.py) and checks the figures of the "all" line; skipped where cv.py is missing.
"""
import argparse
import collections
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import unicodedata


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


def norm(name):
    name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    return re.sub(r"^the\s+", "", name.strip())


def f1(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return round(2 * p * r / (p + r), 3) if p + r else 0.0


def builtin_score(gold_path, pred_path):
    """Strict (actor + position), detection and condition-kind F1, matching as score.py does."""
    gold = collections.defaultdict(list)
    for line in open(gold_path, encoding="utf-8"):
        if line.strip():
            g = json.loads(line)
            for s in g["stances"]:
                gold[g["id"]].append(s)
    pred = collections.defaultdict(list)
    for line in open(pred_path, encoding="utf-8"):
        if line.strip():
            p = json.loads(line)
            pred[p["itemId"]].append(p)
    det = [0, 0, 0]
    strict = [0, 0, 0]
    cond = [0, 0, 0]
    for item in set(gold) | set(pred):
        left = list(pred[item])
        for g in gold[item]:
            same = [p for p in left if norm(p["actor"]["name"]) == norm(g["actor"])]
            right = [p for p in same if p["position"] == "POSITION_" + g["position"]]
            if not same:
                det[2] += 1
                strict[2] += 1
                continue
            p = (right or same)[0]
            left.remove(p)
            det[0] += 1
            if right:
                strict[0] += 1
            else:
                strict[1] += 1
                strict[2] += 1
            # condition kinds as sets, on every matched pair that has any (as score.py does)
            want = {c["kind"] for c in g.get("conditions", [])}
            got = {c["kind"] for c in p.get("conditions", [])}
            cond[0] += len(want & got)
            cond[1] += len(got - want)
            cond[2] += len(want - got)
        det[1] += len(left)
        strict[1] += len(left)
    return {"strict": {"f1": f1(*strict)}, "conditions": {"f1": f1(*cond)},
            "detection": {"f1": f1(*det)}, "evidence": {"overlap": 0.0}}


def extract(args, items, pred, timeout):
    """Runs the driver on `items` into `pred`; returns "" or what went wrong."""
    cmd = args.command.format(driver=shlex.quote(args.driver), data=shlex.quote(args.data),
                              items=shlex.quote(items))
    with open(pred, "w") as out:
        run = subprocess.run(cmd, shell=True, stdout=out, stderr=subprocess.PIPE, text=True,
                             timeout=timeout)
    return "" if run.returncode == 0 else f"driver failed ({run.returncode}): {run.stderr[-500:]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--scorer", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--cv", action="append", default=[])
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
            problem = extract(args, items, pred, timeout=60)
            if problem:
                failures.append(f"{name}: {problem}")
                continue
            if os.path.exists(args.scorer):
                score = subprocess.run(
                    [sys.executable, args.scorer, path, pred, "--json", "--verbose"],
                    capture_output=True, text=True, timeout=60)
                if score.returncode != 0:
                    failures.append(f"{name}: scorer failed: {score.stderr[-500:]}")
                    continue
                lines = score.stdout.strip().splitlines()
                figures = json.loads(lines[-1])
            else:
                print(f"{name}: {args.scorer} not found, scored by the built-in scorer")
                lines = [""]
                figures = builtin_score(path, pred)
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
        for spec in args.cv:
            name, cv = spec.split("=", 1)
            if not os.path.exists(cv):
                print(f"{name}: {cv} not found, skipped")
                continue
            items, pred = os.path.join(tmp, name + ".items"), os.path.join(tmp, name + ".pred")
            subprocess.run([sys.executable, cv, "items", items], check=True, timeout=60,
                           stdout=subprocess.DEVNULL)
            problem = extract(args, items, pred, timeout=120)
            if problem:
                failures.append(f"{name}: {problem}")
                continue
            score = subprocess.run([sys.executable, cv, "score", pred], capture_output=True,
                                   text=True, timeout=120)
            if score.returncode != 0:
                failures.append(f"{name}: cv.py failed: {score.stderr[-500:]}")
                continue
            print(score.stdout.strip())
            overall = [l for l in score.stdout.splitlines() if l.startswith("all ")]
            if not overall:
                failures.append(f"{name}: cv.py printed no 'all' line")
                continue
            names = {"strict": "strict_f1", "conditions": "condition_f1",
                     "detection": "detection_f1", "topics": "topic_f1"}
            got = {names.get(k, k): float(v)
                   for k, v in re.findall(r"(\w+)=([0-9.]+)", overall[0])}
            scored += 1
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
