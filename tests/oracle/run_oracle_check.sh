#!/usr/bin/env bash
# Independent check (issue 4): every SigmaHQ Windows process_creation rule over generated events,
# through `sigil hunt` and through the pySigma SQLite oracle (shared/validators/sigma_sqlite_oracle.py),
# compared per (rule, event). Run by hand, not in CI; results are discussed in docs/oracle-check.md.
#
#   SIGIL_SHARED=../shared tests/oracle/run_oracle_check.sh
#
# Environment:
#   SIGIL_SHARED   the shared folder (default ../shared, relative to the repository root)
#   PYTHON         a python with pysigma==2.0.1, pysigma-backend-sqlite==2.1.1 and rstr==3.2.2;
#                  default: target/oracle-venv, created (from PyPI) when missing
#   N              events per gen_events.py run (default 20000)
#   EVIL_RATE      gen_events.py --evil-rate (default 0.05)
#   SEEDS          gen_events.py seeds (default "1337 4242")
#   RULE_SEEDS     gen_rule_events.py seeds (default "1 2 3")
# Output: target/oracle/ (events, alerts, summary-*.txt, report-*.json with the differing rules).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SHARED=${SIGIL_SHARED:-../shared}
SHARED=$(cd "$SHARED" && pwd)
RULES=$SHARED/corpus/sigmahq/rules/windows/process_creation
ORACLE_DIR=$SHARED/validators
GEN=$SHARED/peer-bench/gen_events.py
N=${N:-20000}
EVIL_RATE=${EVIL_RATE:-0.05}
SEEDS=${SEEDS-"1337 4242"}
RULE_SEEDS=${RULE_SEEDS-"1 2 3"}
OUT=$ROOT/target/oracle
mkdir -p "$OUT"

for p in "$RULES" "$ORACLE_DIR/sigma_sqlite_oracle.py" "$GEN"; do
    [ -e "$p" ] || { echo "missing $p (set SIGIL_SHARED)" >&2; exit 2; }
done

if [ -z "${PYTHON:-}" ]; then
    VENV=$ROOT/target/oracle-venv
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import sigma.backends.sqlite, rstr" 2>/dev/null; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q pysigma==2.0.1 pysigma-backend-sqlite==2.1.1 rstr==3.2.2
    fi
    PYTHON=$VENV/bin/python
fi

cargo build --release -q
SIGIL=$ROOT/target/release/sigil

check() { # name events
    local name=$1 events=$2
    "$SIGIL" hunt --lateness 0 "$RULES" "$events" >"$OUT/sigil-$name.jsonl" 2>"$OUT/sigil-$name.err"
    "$PYTHON" "$ROOT/tests/oracle/compare.py" --oracle-dir "$ORACLE_DIR" --rules "$RULES" \
        --events "$events" --sigil "$OUT/sigil-$name.jsonl" --out "$OUT/report-$name.json" \
        | tee "$OUT/summary-$name.txt"
}

for s in $SEEDS; do
    python3 "$GEN" -n "$N" --seed "$s" --evil-rate "$EVIL_RATE" >"$OUT/events-$s.ndjson"
    check "$s" "$OUT/events-$s.ndjson"
done

python3 "$GEN" -n 3000 --seed 7 --evil-rate 0 >"$OUT/base.ndjson"
for s in $RULE_SEEDS; do
    "$PYTHON" "$ROOT/tests/oracle/gen_rule_events.py" "$RULES" --base "$OUT/base.ndjson" --seed "$s" \
        >"$OUT/events-rules$s.ndjson"
    check "rules$s" "$OUT/events-rules$s.ndjson"
done

# Hand-written probes: one small rule per cause, with the events that show it (docs/oracle-check.md).
PROBES=$ROOT/tests/oracle/probes
"$SIGIL" hunt --lateness 0 "$PROBES/rules" "$PROBES/events.ndjson" >"$OUT/sigil-probes.jsonl" 2>"$OUT/sigil-probes.err"
"$PYTHON" "$ROOT/tests/oracle/compare.py" --oracle-dir "$ORACLE_DIR" --rules "$PROBES/rules" \
    --events "$PROBES/events.ndjson" --sigil "$OUT/sigil-probes.jsonl" --out "$OUT/report-probes.json" \
    | tee "$OUT/summary-probes.txt"

echo
echo "== SigmaHQ process_creation: differing rules by cause, over all runs =="
names=""
for s in $SEEDS; do names="$names $s"; done
for s in $RULE_SEEDS; do names="$names rules$s"; done
"$PYTHON" - "$OUT" $names <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
causes, differ = {}, set()
for n in names:
    rep = json.load(open(f"{out}/report-{n}.json", encoding="utf-8"))
    differ |= {d["file"] for d in rep["differ"]}
    for c, files in rep["causes"].items():
        causes.setdefault(c, set()).update(files)
print(f"rules differing in at least one run: {len(differ)}")
for c, files in sorted(causes.items()):
    print(f"{c} ({len(files)}):")
    for f in sorted(files):
        print(f"    {f}")
PY
