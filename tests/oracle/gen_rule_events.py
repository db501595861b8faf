#!/usr/bin/env python3
"""Rule-derived process-creation events: for every rule in a folder, events built to satisfy (or
nearly satisfy) its selections and filters, so that Sigil and the pySigma oracle are compared
where the Sigma semantics have edge cases (windash, `?`, escapes, null, regex, base64offset,
fieldref, non-ASCII case folding, numbers as strings), not only on the few attacker command lines
of gen_events.py.

usage: gen_rule_events.py RULES_DIR --base BASE.ndjson [--seed N] [--per-map K] > events.ndjson

- BASE.ndjson: benign events (gen_events.py --evil-rate 0) that give every event its other fields.
- Per rule: K events per map of every search identifier; K events that merge one map of each
  identifier not named `filter*`; one more per `filter*` identifier merged into that. Values vary
  at random: case (upper, lower, mixed; in near misses also K U+212A, long s, dotless i, İ for
  their ASCII twins); every `-`/`/` of a windash value swapped for one of the five dashes (in near
  misses also for other dash-like characters); `*` filled with 0-6 characters, `?` with one (in
  near misses none or two); regex values drawn with rstr, some with odd whitespace or digits and
  a trailing newline; base64offset values encoded at a random offset; numbers as JSON numbers or
  strings; `null` as an absent key, a JSON null or an empty string; some fields get leading or
  trailing whitespace.
- Output is flat NDJSON (the oracle maps top-level keys to columns); same inputs => same bytes.
"""
import argparse
import base64
import hashlib
import json
import os
import random
import re
import sys
from datetime import datetime, timedelta

import rstr
import yaml

DASHES = ["-", "/", "\u2013", "\u2014", "\u2015"]
FILLER = "abcXYZ019 _.\\:-/\u00e9\u00c9\u0430\u0410"
ABSENT = object()
UNICODE_TWINS = {"k": "\u212a", "K": "\u212a", "s": "\u017f", "i": "\u0131", "I": "\u0130"}
# Dash-like characters that are not among windash's five.
ODD_SPACES = [" ", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\u00a0", "\u0085", "\u2003", "\u3000"]
ODD_DIGITS = ["\u0663", "\uff13", "\u00b2", "\u2168"]
OTHER_DASHES = ["\u2010", "\u2212", "\ufe63", "\uff0d"]


class Gen:
    def __init__(self, rnd, near=False):
        self.rnd = rnd
        self.near = near
        self.xeger = rstr.Rstr(rnd)

    def filler(self, lo=0, hi=6):
        return "".join(self.rnd.choice(FILLER) for _ in range(self.rnd.randint(lo, hi)))

    def case(self, s):
        if self.near and self.rnd.random() < 0.3:
            # Characters whose case mapping leaves ASCII: Kelvin sign, long s, dotted/dotless i.
            s = "".join(UNICODE_TWINS.get(c, c) if self.rnd.random() < 0.5 else c for c in s)
        r = self.rnd.random()
        if r < 0.35:
            return s
        if r < 0.55:
            return s.upper()
        if r < 0.75:
            return s.lower()
        return "".join(c.upper() if self.rnd.random() < 0.5 else c.lower() for c in s)

    def sigma_text(self, v, cased, windash):
        """A string the Sigma value (with wildcards and escapes) matches, varied."""
        out = []
        lit = []

        def flush():
            if lit:
                s = "".join(lit)
                if windash:
                    pool = DASHES + OTHER_DASHES if self.near else DASHES
                    s = "".join(self.rnd.choice(pool) if c in "-/" and self.rnd.random() < 0.6 else c for c in s)
                out.append(s if cased else self.case(s))
                lit.clear()

        i = 0
        while i < len(v):
            c = v[i]
            if c == "\\" and i + 1 < len(v) and v[i + 1] in "*?\\":
                lit.append(v[i + 1])
                i += 2
                continue
            if c == "*":
                flush()
                out.append(self.filler())
            elif c == "?":
                flush()
                n = self.rnd.choice([0, 2]) if self.near and self.rnd.random() < 0.5 else 1
                out.append(self.filler(n, n))
            else:
                lit.append(c)
            i += 1
        flush()
        return "".join(out)

    def regex_text(self, pattern, flags):
        try:
            s = self.xeger.xeger(pattern)
        except Exception:  # noqa: BLE001 - rstr does not know every construct
            return None
        if len(s) > 400:
            s = s[:400]
        if "i" in flags:
            s = self.case(s)
        if self.near:
            # Where regex dialects disagree: which characters are \s, \d and \w.
            s = "".join(
                self.rnd.choice(ODD_SPACES) if c.isspace() and self.rnd.random() < 0.5
                else self.rnd.choice(ODD_DIGITS) if c.isdigit() and self.rnd.random() < 0.3
                else c
                for c in s
            )
        return s

    def b64offset(self, v):
        pre = bytes(self.rnd.choice(b"ABCxyz ;") for _ in range(self.rnd.randint(0, 5)))
        post = bytes(self.rnd.choice(b"ABCxyz ;") for _ in range(self.rnd.randint(0, 5)))
        return base64.b64encode(pre + v.encode() + post).decode()


def constraints(gen, key, value):
    """(field, kind, text) triples that satisfy one `field|mods: values` item."""
    parts = key.split("|")
    field, mods = parts[0], parts[1:]
    vals = value if isinstance(value, list) else [value]
    chosen = vals if "all" in mods else [gen.rnd.choice(vals)]
    out = []
    for v in chosen:
        if v is None:
            out.append((field, "null", gen.rnd.choice([ABSENT, None, ""])))
            continue
        if "exists" in mods:
            out.append((field, "exact", "x") if v else (field, "null", ABSENT))
            continue
        if "fieldref" in mods:
            out.append((field, "fieldref", str(v)))
            continue
        if isinstance(v, bool):
            out.append((field, "exact", v))
            continue
        if isinstance(v, (int, float)) and not [m for m in mods if m not in ("cased",)]:
            out.append((field, "exact", v if gen.rnd.random() < 0.5 else str(v)))
            continue
        v = str(v)
        if "re" in mods:
            flags = "".join(m for m in mods if m in ("i", "m", "s"))
            t = gen.regex_text(v, flags)
            if t is not None:
                out.append((field, "regex", t))
            continue
        if "base64offset" in mods or "base64" in mods:
            out.append((field, "contains", gen.b64offset(v)))
            continue
        text = gen.sigma_text(v, "cased" in mods, "windash" in mods)
        kind = "exact"
        if "contains" in mods:
            kind = "contains"
        elif "startswith" in mods:
            kind = "startswith"
        elif "endswith" in mods:
            kind = "endswith"
        out.append((field, kind, text))
    return out


def build(gen, base, maps):
    """An event from a base event and the constraints of several maps."""
    per_field = {}
    refs = []
    for m in maps:
        for key, value in m.items():
            for field, kind, text in constraints(gen, str(key), value):
                if kind == "fieldref":
                    refs.append((field, text))
                else:
                    per_field.setdefault(field, []).append((kind, text))
    ev = dict(base)
    for field, cs in per_field.items():
        nulls = [t for k, t in cs if k == "null"]
        exact = [t for k, t in cs if k == "exact"]
        if nulls and len(nulls) == len(cs):
            t = nulls[-1]
            if t is ABSENT:
                ev.pop(field, None)
            else:
                ev[field] = t
            continue
        if exact:
            ev[field] = exact[-1]
            continue
        if len(cs) == 1 and isinstance(cs[0][1], str) and re.fullmatch(r"[0-9]{1,15}", cs[0][1]) \
                and gen.rnd.random() < 0.5:
            ev[field] = int(cs[0][1])  # a JSON number where the rule has a string
            continue
        pre = "".join(t for k, t in cs if k == "startswith")
        suf = "".join(t for k, t in cs if k == "endswith")
        mid = [t for k, t in cs if k == "contains"]
        gen.rnd.shuffle(mid)
        sep = gen.rnd.choice(["", " ", " ", "\\", " x "])
        rx = [t for k, t in cs if k == "regex"]
        # A regex's text goes last (after any suffix) so `$` meets the end of the value.
        ev[field] = pre + sep + sep.join(mid) + (sep if mid else "") + suf + "".join(rx)
        if rx and gen.rnd.random() < 0.3:
            ev[field] += gen.rnd.choice(["\n", "\r\n", "\n\n"])
    for field in per_field:
        v = ev.get(field)
        if not isinstance(v, str):
            continue
        r = gen.rnd.random()
        if r < 0.08:
            ev[field] = v + gen.rnd.choice(["\n", "\r\n", "\t", " "])  # `$` in regexes, exact values
        elif r < 0.12:
            ev[field] = gen.rnd.choice(["\n", " ", "\t"]) + v
        elif re.fullmatch(r"-?[0-9]{1,15}", v) and r < 0.6:
            ev[field] = int(v)  # a number where the rule has a string
    for field, other in refs:
        if other in ev and ev[other] is not None:
            ev[field] = gen.case(str(ev[other])) if gen.rnd.random() < 0.5 else ev[other]
        else:
            ev[field] = "CORP\\alice"
            ev[other] = "corp\\ALICE"
    return ev


def maps_of(ident_value):
    """The maps of a search identifier (keyword lists become CommandLine contains maps)."""
    if isinstance(ident_value, dict):
        return [ident_value]
    if isinstance(ident_value, list):
        out = []
        for x in ident_value:
            if isinstance(x, dict):
                out.append(x)
            elif x is not None:
                out.append({"CommandLine|contains": str(x)})
        return out
    return []


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # rstr draws from sets of characters, whose order follows str hashing: pin it so the
        # same seed gives the same events in every process.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    ap = argparse.ArgumentParser()
    ap.add_argument("rules")
    ap.add_argument("--base", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-map", type=int, default=2)
    a = ap.parse_args()
    bases = [json.loads(l) for l in open(a.base) if l.strip()]
    out = sys.stdout
    t0 = datetime(2026, 11, 2, 8, 0, 0)
    n = 0
    for name in sorted(os.listdir(a.rules)):
        if not name.endswith((".yml", ".yaml")):
            continue
        h = int(hashlib.sha256(f"{a.seed}:{name}".encode()).hexdigest()[:16], 16)
        rnd = random.Random(h)
        docs = [d for d in yaml.safe_load_all(open(os.path.join(a.rules, name))) if isinstance(d, dict)]
        for doc in docs:
            det = doc.get("detection")
            if not isinstance(det, dict):
                continue
            idents = {k: maps_of(v) for k, v in det.items() if k not in ("condition", "timeframe")}
            events = []
            for k, ms in idents.items():
                for m in ms:
                    for i in range(a.per_map):
                        gen = Gen(rnd, near=(i % 2 == 1))
                        events.append(build(gen, rnd.choice(bases), [m]))
            sel = [ms for k, ms in idents.items() if not re.match(r"_?filter", k) and ms]
            fil = [ms for k, ms in idents.items() if re.match(r"_?filter", k) and ms]
            for i in range(a.per_map):
                gen = Gen(rnd, near=(i % 2 == 1))
                chosen = [rnd.choice(ms) for ms in sel]
                events.append(build(gen, rnd.choice(bases), chosen))
                for fms in fil:
                    events.append(build(gen, rnd.choice(bases), chosen + [rnd.choice(fms)]))
            for ev in events:
                # Times increase with the line, so no event is late for `sigil hunt`.
                ts = t0 + timedelta(milliseconds=37 * n)
                n += 1
                ev["UtcTime"] = ts.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (ts.microsecond // 1000)
                ev["TimeCreated"] = ts.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ts.microsecond // 1000)
                out.write(json.dumps(ev, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
