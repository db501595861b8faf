#!/usr/bin/env python3
"""Compare Sigil's matches with the pySigma SQLite oracle, per (rule, event), and name the cause
of every difference.

usage: compare.py --oracle-dir DIR --rules DIR --events EVENTS.ndjson --sigil ALERTS.jsonl [--out REPORT.json]

- DIR/sigma_sqlite_oracle.py (shared/validators) is imported as a module: the events are loaded into
  SQLite once, in the table layout that script builds (COLLATE NOCASE columns, REGEXP = Python
  re.search, all-NULL columns for fields no event has); every rule is converted with pySigma's
  SQLite backend and its queries run (several queries of one rule are OR-ed).
- ALERTS.jsonl is the output of `sigil hunt RULES EVENTS.ndjson`; event ids there are FILE:LINE
  (1-based), the oracle's are 0-based line numbers.
- Causes. For a rule that differs, the same SQL also runs over two more copies of the table
  whose NOCASE collation and LIKE fold characters outside ASCII too (SQLite folds ASCII only):
  a difference gone when letters such as Cyrillic, Greek or `À` fold (`fold_letters`) is
  `non-ascii-case-folding-letters`; one gone only when every character folds as Sigil folds it
  (`fold`: also `K` U+212A -> `k`, `İ` U+0130 -> `i`) is `non-ascii-case-folding-to-ascii`.
  Other differences on a regex item are tried with one dialect difference of Python's `re`
  undone at a time (regex_causes). Anything else is `unclassified` and needs a look.
- Prints a summary, one line per differing rule and one per cause; --out writes the detail as JSON.
"""
import argparse
import json
import os
import re
import sqlite3
import sys

import yaml


def load_oracle(oracle_dir):
    sys.path.insert(0, oracle_dir)
    import sigma_sqlite_oracle  # noqa: E402

    return sigma_sqlite_oracle


def fold(s):
    """Sigil's case folding (crates/sigil-eval/src/pattern.rs): each character becomes the first
    character of its lower case."""
    return "".join(c.lower()[:1] or c for c in s)


def fold_letters(s):
    """`fold` restricted to characters whose lower case is not ASCII (Cyrillic, Greek, `À`…):
    `K` (U+212A KELVIN SIGN) and `İ` (U+0130) keep their case, as they do in SQLite."""
    return "".join(c if ord(c) > 127 and ord(c.lower()[:1] or c) < 128 else c.lower()[:1] or c for c in s)


class Folding:
    """A NOCASE collation and a LIKE for SQLite that fold both sides with a Python function."""

    def __init__(self, fold_fn):
        self.fold = fold_fn
        self.like_cache = {}
        self.fold_cache = {}

    def collate(self, a, b):
        a, b = self.fold(a), self.fold(b)
        return (a > b) - (a < b)

    def like(self, pattern, value, escape=None):
        """SQLite's LIKE (`%`, `_`, ESCAPE) over folded text."""
        if pattern is None or value is None:
            return None
        rx = self.like_cache.get((pattern, escape))
        if rx is None:
            rx = self.like_cache[(pattern, escape)] = like_regex(self.fold(str(pattern)), escape)
        v = self.fold_cache.get(value)
        if v is None:
            if len(self.fold_cache) > 200_000:
                self.fold_cache.clear()
            v = self.fold_cache[value] = self.fold(str(value))
        return 1 if rx.fullmatch(v) else 0


def like_regex(pattern, escape):
    rx, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if escape and c == escape and i + 1 < len(pattern):
            rx.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        rx.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(rx), re.S)


def build_db(oracle, rows, fold_fn=None):
    cols = sorted({k for r in rows for k in r})
    con = sqlite3.connect(":memory:")
    con.create_function("regexp", 2, oracle._regexp, deterministic=True)
    if fold_fn:
        f = Folding(fold_fn)
        con.create_collation("NOCASE", f.collate)
        con.create_function("like", 2, f.like, deterministic=True)
        con.create_function("like", 3, f.like, deterministic=True)
    quoted = ", ".join('"' + c.replace('"', '""') + '" COLLATE NOCASE' for c in cols)
    con.execute(f"CREATE TABLE logs (_line INTEGER, {quoted})")
    for i, r in enumerate(rows):
        vals = [json.dumps(r.get(c)) if isinstance(r.get(c), (dict, list)) else r.get(c) for c in cols]
        con.execute(f"INSERT INTO logs VALUES (?, {', '.join('?' for _ in cols)})", [i] + vals)
    return con


def run(oracle, con, queries):
    lines = set()
    for q in queries:
        cur = oracle._execute(con, q)
        names = [d[0] for d in cur.description]
        li = names.index("_line")
        lines.update(r[li] for r in cur.fetchall())
    return lines


def rule_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and isinstance(d.get("detection"), dict)]


def rule_items(docs):
    """(field, modifiers, values) of every detection item."""
    out = []
    for doc in docs:
        for k, v in doc["detection"].items():
            if k in ("condition", "timeframe"):
                continue
            maps = [v] if isinstance(v, dict) else [x for x in (v or []) if isinstance(x, dict)]
            for m in maps:
                for key, val in m.items():
                    field, *mods = str(key).split("|")
                    out.append((field, mods, val if isinstance(val, list) else [val]))
    return out


def cased_non_ascii(s):
    return any(ord(c) > 127 and (c.lower() != c or c.upper() != c) for c in s)


SEPARATORS = "".join(chr(c) for c in range(0x1C, 0x20))


def end_only_dollar(p):
    """The regex with each `$` outside a character class made `\Z` (the end of the text only)."""
    out, i, depth = [], 0, 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            out.append(p[i:i + 2])
            i += 2
            continue
        if c == "[":
            depth += 1
            out.append(c)
            for lit in ("^", "]"):
                if p[i + 1:i + 2] == lit:
                    out.append(lit)
                    i += 1
        elif c == "]" and depth:
            depth -= 1
            out.append(c)
        elif c == "$" and not depth:
            out.append(r"\Z")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def regex_causes(mods, vals, v):
    """Which dialect difference between Python's `re` (the oracle's REGEXP) and the `regex` crate
    (Sigil) decides one of these regexes on v: each is undone on the Python side in turn."""
    flags = (re.I if "i" in mods else 0) | (re.M if "m" in mods else 0) | (re.S if "s" in mods else 0)
    out = set()
    for p in vals:
        if not isinstance(p, str):
            continue
        try:
            base = bool(re.search(p, v, flags))
            if any(c in v for c in SEPARATORS):
                # Python's \s (str.isspace) includes U+001C..U+001F; Unicode White_Space does not.
                plain = v.translate({ord(c): "\x01" for c in SEPARATORS})
                if base != bool(re.search(p, plain, flags)):
                    out.add("regex-\\s-matches-U+001C..001F-in-python")
            if v.endswith("\n") and "$" in p and not flags & re.M:
                # PCRE and Python: `$` also matches before a final newline.
                if base != bool(re.search(end_only_dollar(p), v, flags)):
                    out.add("regex-dollar-before-final-newline")
            if cased_non_ascii(v) and (flags & re.I or "(?i)" in p):
                # Python's IGNORECASE folds `İ` to `i`; the regex crate's simple case folding
                # does not.
                plain = "".join("\u00b7" if ord(c) > 127 and (c.lower() != c or c.upper() != c) else c
                                for c in v)
                if base != bool(re.search(p, plain, flags)):
                    out.add("regex-non-ascii-case-folding")
        except re.error:
            continue
    return out


def classify(items, event):
    causes = set()
    for field, mods, vals in items:
        v = event.get(field)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            causes.add("number-for-string")
        if isinstance(v, str) and "re" in mods:
            causes |= regex_causes(mods, vals, v)
    return sorted(causes) or ["unclassified"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle-dir", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--sigil", required=True)
    ap.add_argument("--out")
    a = ap.parse_args()

    oracle = load_oracle(a.oracle_dir)
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    # File iteration splits on \n only (str.splitlines would also split on U+0085, U+2028, ...).
    rows = [json.loads(line) for line in open(a.events, encoding="utf-8") if line.strip()]
    con = build_db(oracle, rows)
    con_u = build_db(oracle, rows, fold)
    con_l = build_db(oracle, rows, fold_letters)

    sigil = {}
    for line in open(a.sigil, encoding="utf-8"):
        alert = json.loads(line)
        for ev in alert["events"]:
            n = ev.rpartition(":")[2]
            sigil.setdefault(alert["rule"]["id"], set()).add(int(n) - 1)

    def got_of(ids):
        return set().union(*(sigil.get(i, set()) for i in ids))

    backend = sqliteBackend()
    files = sorted(f for f in os.listdir(a.rules) if f.endswith((".yml", ".yaml")))
    report = {"events": a.events, "event_count": len(rows), "rules": len(files), "agree": 0,
              "rules_matching": 0, "differ": [], "oracle_errors": [], "causes": {}}
    for name in files:
        path = os.path.join(a.rules, name)
        docs = rule_docs(path)
        ids = [str(d["id"]) for d in docs if d.get("id")]
        try:
            queries = backend.convert(SigmaCollection.from_yaml(open(path, encoding="utf-8").read()))
        except SigmaError as e:
            report["oracle_errors"].append({"file": name, "error": f"pySigma: {e}"})
            continue
        try:
            want = run(oracle, con, queries)
            # The Unicode-folding copy is slow (LIKE in Python): only for rules that differ.
            differs = want != got_of(ids)
            want_u = run(oracle, con_u, queries) if differs else want
            want_l = run(oracle, con_l, queries) if differs else want
        except sqlite3.Error as e:
            report["oracle_errors"].append({"file": name, "error": f"sqlite: {e}"})
            continue
        got = got_of(ids)
        if got or want:
            report["rules_matching"] += 1
        if got == want:
            report["agree"] += 1
            continue
        items = rule_items(docs)
        why = {}
        for n in sorted(got ^ want):
            side = "sigil" if n in got else "oracle"
            if (n in got) == (n in want_l):
                causes = ["non-ascii-case-folding-letters"]
            elif (n in got) == (n in want_u):
                causes = ["non-ascii-case-folding-to-ascii"]
            else:
                causes = classify(items, rows[n])
            for c in causes:
                why.setdefault(c, []).append({"line": n, "matched_by": side})
                report["causes"].setdefault(c, [])
                if name not in report["causes"][c]:
                    report["causes"][c].append(name)
        first = min(got ^ want)
        report["differ"].append({
            "file": name, "id": ids[0] if ids else None, "sigil": len(got), "oracle": len(want),
            "only_sigil": len(got - want), "only_oracle": len(want - got),
            "causes": {c: v[:10] for c, v in why.items()},
            "example": {"line": first, "matched_by": "sigil" if first in got else "oracle", "event": rows[first]},
            "sql": queries,
        })

    compared = report["rules"] - len(report["oracle_errors"])
    print(f"events: {a.events} ({len(rows)})")
    print(f"rules: {report['rules']}  compared: {compared}  agree: {report['agree']}  "
          f"differ: {len(report['differ'])}  oracle errors: {len(report['oracle_errors'])}  "
          f"rules with a match on either side: {report['rules_matching']}")
    for d in report["differ"]:
        print(f"DIFF {d['file']}: sigil {d['sigil']} oracle {d['oracle']} only-sigil {d['only_sigil']} "
              f"only-oracle {d['only_oracle']} causes {sorted(d['causes'])}")
    for c, names in sorted(report["causes"].items()):
        print(f"CAUSE {c}: {len(names)} rules")
    for e in report["oracle_errors"]:
        print(f"ORACLE-ERROR {e['file']}: {e['error']}")
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
