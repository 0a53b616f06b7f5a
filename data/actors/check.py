#!/usr/bin/env python3
"""Validate the stancewire actor dictionary (data/actors/*.tsv). Python 3 stdlib only.

usage: check.py [DIR] [--quiet]

Checks, reporting FILE:LINE for every finding:
  * UTF-8, tab-separated, `#` comment lines, blank lines ignored, no stray whitespace in fields;
  * record types and their column counts:
      ID actor   Canonical name  kind [parent_id]
      ID name|metonym|demonym  surface form
      ID person  Full Name  role  from  to  [short forms, |-separated]
      ID members  ID|ID|...   (a group whose stances are its members': the E3)
  * known kinds and roles, ID syntax, dates (YYYY-MM-DD, real dates, from <= to);
  * every ID defined by an `actor` line BEFORE any other line uses it, across the folder, in the loader's
    order (files sorted by name, as extraction/extractor.cc does; hence the 10_/20_/30_/40_ prefixes);
    parent_ids must be defined somewhere (the loader resolves them after reading all files);
  * a surface form (name, metonym, demonym, person name or short form, canonical name) listed for two
    different IDs, normalised the way the matcher does (leading "the" stripped; aliases written fully in
    capitals -- 2-4 letters A-Z, as extraction/actors.cc does -- are case-sensitive, all others case- and
    diacritic-insensitive; IDs count as aliases, as in the loader). Person names under different
    IDs whose terms do not overlap (a person who moved between actors) are reported as date-separated, not
    as errors;
  * consistency with the scorer's ACTOR_SYNONYMS (../../../shared/eval/score.py, if present): an alias the
    scorer normalises must belong to the actor whose canonical name it normalises to.
Exit status: 0 when there are no errors (warnings and notes allowed), 1 otherwise.
"""
import datetime
import glob
import os
import re
import sys
import unicodedata

KINDS = {"state", "observer_state", "territory", "igo", "igo_body", "nonstate", "group"}
ROLES = {"head_of_state", "head_of_government", "foreign_minister", "defence_minister", "un_ambassador",
         "spokesperson", "leader", "official"}
ALIAS_TYPES = {"name", "metonym", "demonym"}
ID_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SCORER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "eval", "score.py")


def fold(s):
    """Diacritic-insensitive, lower-case form (used for case-insensitive aliases and the scorer)."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.replace("ı", "i").replace("ø", "o").replace("Ø", "O").replace("đ", "d").replace("ł", "l")
    s = s.replace("Ł", "L").replace("þ", "th").replace("Þ", "Th").replace("ð", "d").replace("æ", "ae")
    s = s.replace("’", "'")
    return re.sub(r"\s+", " ", s.lower()).strip()


def strip_the(s):
    return re.sub(r"^the\s+", "", s, flags=re.I)


def all_caps(s):
    """The loader's rule (extraction/actors.cc IsCapsAcronym): 2-4 characters, all A-Z."""
    return 2 <= len(s) <= 4 and all("A" <= c <= "Z" for c in s)


def alias_key(s):
    """The key the matcher would compare on: ('cs', text) for all-caps aliases, ('ci', folded) otherwise."""
    s = strip_the(s.strip())
    return ("cs", s) if all_caps(s) else ("ci", fold(s))


def parse_date(s):
    if not DATE_RE.match(s):
        return None
    try:
        return datetime.date.fromisoformat(s)
    except ValueError:
        return None


class Checker:
    def __init__(self):
        self.errors, self.warnings, self.notes = [], [], []
        self.actors = {}          # id -> (canonical, kind, where)
        self.forms = {}           # alias key -> list of (id, surface, where, kind-of-form, (from, to) or None)
        self.counts = {}          # file -> type -> n
        self.seen_lines = {}
        self.parents = []         # (parent_id, where), resolved after all files
        self.members = []         # (member id, where), resolved after all files

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    def warn(self, where, msg):
        self.warnings.append(f"{where}: {msg}")

    def add_form(self, aid, surface, where, what, term=None):
        if not surface:
            self.err(where, f"empty {what}")
            return
        if surface != surface.strip():
            self.err(where, f"{what} {surface!r} has leading/trailing spaces")
        if re.match(r"^the\s", surface, re.I):
            self.warn(where, f"{what} {surface!r}: a leading 'the' is stripped by the matcher; write it without")
        if "|" in surface or "\t" in surface:
            self.err(where, f"{what} {surface!r} contains '|' or a tab")
        self.forms.setdefault(alias_key(surface), []).append((aid, surface, where, what, term))

    def need_id(self, aid, where, what="ID"):
        if not ID_RE.match(aid):
            self.err(where, f"bad {what} {aid!r} (expected UPPER_SNAKE / ISO alpha-3)")
            return False
        if aid not in self.actors:
            self.err(where, f"{what} {aid!r} used before an `actor` line defines it")
            return False
        return True

    def check_file(self, path):
        name = os.path.basename(path)
        counts = self.counts.setdefault(name, {})
        try:
            text = open(path, encoding="utf-8").read()
        except UnicodeDecodeError as e:
            self.err(name, f"not valid UTF-8: {e}")
            return
        if text.startswith("\ufeff"):
            self.err(f"{name}:1", "byte-order mark at start of file")
        for n, line in enumerate(text.split("\n"), 1):
            where = f"{name}:{n}"
            line = line.rstrip("\r")
            if not line.strip() or line.lstrip().startswith("#"):
                if line.strip() and not line.startswith("#"):
                    self.warn(where, "comment line starts with whitespace")
                continue
            if line in self.seen_lines:
                self.warn(where, f"exact duplicate of {self.seen_lines[line]}")
            else:
                self.seen_lines[line] = where
            f = line.split("\t")
            if len(f) < 3:
                self.err(where, f"expected at least 3 tab-separated columns, got {len(f)}")
                continue
            for i, col in enumerate(f):
                if col != col.strip():
                    self.err(where, f"column {i + 1} has leading/trailing whitespace: {col!r}")
            aid, typ = f[0], f[1]
            counts[typ] = counts.get(typ, 0) + 1
            if typ == "actor":
                if len(f) not in (4, 5):
                    self.err(where, f"actor line needs 4 or 5 columns, got {len(f)}")
                    continue
                if not ID_RE.match(aid):
                    self.err(where, f"bad ID {aid!r}")
                    continue
                if aid in self.actors:
                    self.err(where, f"actor {aid} already defined at {self.actors[aid][2]}")
                    continue
                canon, kind = f[2], f[3]
                if not canon:
                    self.err(where, "empty canonical name")
                if kind not in KINDS:
                    self.err(where, f"unknown kind {kind!r} (expected one of {', '.join(sorted(KINDS))})")
                if len(f) == 5 and f[4]:
                    if f[4] == aid:
                        self.err(where, "actor is its own parent")
                    elif not ID_RE.match(f[4]):
                        self.err(where, f"bad parent_id {f[4]!r}")
                    else:
                        self.parents.append((f[4], where))
                self.actors[aid] = (canon, kind, where)
                self.add_form(aid, canon, where, "canonical name")
                self.add_form(aid, aid, where, "ID")
            elif typ in ALIAS_TYPES:
                if len(f) != 3:
                    self.err(where, f"{typ} line needs 3 columns, got {len(f)}")
                    continue
                if self.need_id(aid, where):
                    self.add_form(aid, f[2], where, typ)
            elif typ == "members":
                if len(f) != 3:
                    self.err(where, f"members line needs 3 columns, got {len(f)}")
                    continue
                if self.need_id(aid, where):
                    for m in f[2].split("|"):
                        if m == aid or not ID_RE.match(m):
                            self.err(where, f"bad member {m!r}")
                        else:
                            self.members.append((m, where))
            elif typ == "person":
                if len(f) not in (6, 7):
                    self.err(where, f"person line needs 6 or 7 columns, got {len(f)}")
                    continue
                if not self.need_id(aid, where):
                    continue
                full, role, fr, to = f[2], f[3], f[4], f[5]
                shorts = f[6] if len(f) == 7 else ""
                if role not in ROLES:
                    self.err(where, f"unknown role {role!r} (expected one of {', '.join(sorted(ROLES))})")
                dfrom = dto = None
                if fr:
                    dfrom = parse_date(fr)
                    if dfrom is None:
                        self.err(where, f"bad from date {fr!r} (YYYY-MM-DD)")
                if to:
                    dto = parse_date(to)
                    if dto is None:
                        self.err(where, f"bad to date {to!r} (YYYY-MM-DD)")
                if dfrom and dto and dfrom > dto:
                    self.err(where, f"from {fr} is after to {to}")
                term = (dfrom, dto)
                self.add_form(aid, full, where, "person name", term)
                if shorts:
                    for s in shorts.split("|"):
                        self.add_form(aid, s, where, "short form", term)
            else:
                self.err(where, f"unknown record type {typ!r} (expected actor, name, metonym, demonym, members, person)")

    def cross_checks(self):
        def overlap(a, b):
            # terms sharing only a handover day do not count as overlapping
            lo1, hi1 = a[0] or datetime.date.min, a[1] or datetime.date.max
            lo2, hi2 = b[0] or datetime.date.min, b[1] or datetime.date.max
            return max(lo1, lo2) < min(hi1, hi2)

        # case-insensitive aliases also match all-caps text: compare them with the all-caps keys too
        merged = {}
        for (mode, key), entries in self.forms.items():
            merged.setdefault(("ci", fold(key)) if mode == "cs" else (mode, key), []).extend(
                [(e, mode) for e in entries])
        for key, entries in sorted(merged.items(), key=lambda kv: kv[0][1]):
            ids = {e[0] for e, _ in entries}
            if len(ids) < 2:
                continue
            modes = {m for _, m in entries}
            if modes == {"cs"} and len({e[1] for e, _ in entries}) > 1:
                continue  # different all-caps spellings that only fold together: both case-sensitive, distinct
            persons = [e for e, _ in entries if e[4] is not None]
            if len(persons) == len(entries):
                clash = any(overlap(a[4], b[4]) for a in persons for b in persons if a[0] != b[0])
                if not clash:
                    self.notes.append(f"date-separated person form {key[1]!r}: " + "; ".join(
                        f"{e[0]} ({e[2]}, {e[4][0] or '?'}..{e[4][1] or ''})" for e in persons))
                    continue
            self.warn(entries[0][0][2], f"surface form {entries[0][0][1]!r} is listed for several actors: " +
                      "; ".join(f"{e[0]} as {e[3]} at {e[2]}" for e, _ in entries))
        for pid, where in self.parents:
            if pid not in self.actors:
                self.err(where, f"unknown parent_id {pid!r}")
        for mid, where in self.members:
            if mid not in self.actors:
                self.err(where, f"unknown member {mid!r}")
        # canonical names must be unique
        canon = {}
        for aid, (c, _, where) in self.actors.items():
            k = fold(c)
            if k in canon:
                self.err(where, f"canonical name {c!r} also used by {canon[k]}")
            canon[k] = aid

    def scorer_checks(self):
        if not os.path.exists(SCORER):
            self.notes.append(f"scorer not found at {SCORER}; synonym check skipped")
            return
        src = open(SCORER, encoding="utf-8").read()
        m = re.search(r"ACTOR_SYNONYMS\s*=\s*(\{.*?\n\})", src, re.S)
        if not m:
            self.notes.append("ACTOR_SYNONYMS not found in scorer; synonym check skipped")
            return
        import ast
        syn = ast.literal_eval(m.group(1))

        def norm(s):
            s = unicodedata.normalize("NFKD", s or "").encode("ascii", "ignore").decode().lower().strip()
            s = re.sub(r"^the\s+", "", s)
            s = re.sub(r"\s+", " ", s)
            return syn.get(s, s)

        canon_of = {norm(c): aid for aid, (c, _, _) in self.actors.items()}
        for aid, (c, _, where) in self.actors.items():
            if norm(c) != norm(c).strip() or canon_of.get(norm(c)) != aid:
                self.err(where, f"canonical {c!r} collides with another actor after scorer normalisation")
        for (_, key), entries in self.forms.items():
            for aid, surface, where, what, _ in entries:
                k = unicodedata.normalize("NFKD", strip_the(surface)).encode("ascii", "ignore").decode().lower()
                if k in syn:
                    target = canon_of.get(syn[k])
                    if target is None:
                        self.err(where, f"scorer maps {surface!r} to {syn[k]!r}, which is no actor's canonical name")
                    elif target != aid:
                        self.err(where, f"{surface!r} is listed for {aid} but the scorer maps it to {target}")
        for k, v in syn.items():
            if v not in canon_of:
                self.notes.append(f"scorer synonym target {v!r} has no actor record")


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    d = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    files = sorted(glob.glob(os.path.join(d, "*.tsv")))
    c = Checker()
    for p in files:
        c.check_file(p)
    c.cross_checks()
    c.scorer_checks()
    quiet = "--quiet" in argv
    print("load order: " + ", ".join(os.path.basename(p) for p in files))
    for name, counts in c.counts.items():
        print(f"{name:20s} " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print(f"actors={len(c.actors)} surface_forms={sum(len(v) for v in c.forms.values())}")
    if not quiet:
        for n in c.notes:
            print("NOTE  " + n)
    for w in c.warnings:
        print("WARN  " + w)
    for e in c.errors:
        print("ERROR " + e)
    print(f"{len(c.errors)} error(s), {len(c.warnings)} warning(s), {len(c.notes)} note(s)")
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
