#!/usr/bin/env bash
# Per-(rule, event) comparison of Sigil's alerts with rsigma's on the peer benchmark's events:
# runs `rsigma engine eval --include-event` and `sigil hunt` over the same rules and events,
# turns Sigil's alerts into (event line, rule id) pairs and hands both to
# ../shared/peer-bench/compare.py, which prints the pairs only one side reports, by rule, with
# examples. docs/benchmarks.md reports the result; docs/semantics.md explains each difference.
#
#   benches/compare-rsigma.sh                       # SigmaHQ process_creation x 1,000,000 events
#   EVENTS_N=100000 benches/compare-rsigma.sh       # a prefix of the events
#   RULES=path/to/rules benches/compare-rsigma.sh
#
# Env: SIGIL_SHARED (default ../shared), PEER_BENCH_DIR (default /tmp/peer-bench; the events
# file events-1000000-s1337.ndjson is generated there by run.sh / gen_events.py if missing),
# EVENTS_N, RULES, OUT (default $PEER_BENCH_DIR/compare).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SIGIL_SHARED:-$ROOT/../shared}"
PB="$SHARED/peer-bench"
B="${PEER_BENCH_DIR:-/tmp/peer-bench}"
RULES="${RULES:-$SHARED/corpus/sigmahq/rules/windows/process_creation}"
N="${EVENTS_N:-1000000}"
OUT="${OUT:-$B/compare}"
mkdir -p "$OUT"
EV="$B/events-1000000-s1337.ndjson"
if [ ! -s "$EV" ]; then
  echo "generating 1000000 events -> $EV" >&2
  python3 "$PB/gen_events.py" -n 1000000 --seed 1337 > "$EV.tmp" && mv "$EV.tmp" "$EV"
fi
if [ "$N" -lt 1000000 ]; then
  head -n "$N" "$EV" > "$OUT/events.ndjson"
  EV="$OUT/events.ndjson"
fi
RSIGMA="$B/rsigma/bin/rsigma"; [ -x "$RSIGMA" ] || RSIGMA="$PB/prebuilt/rsigma"
(cd "$ROOT" && cargo build --release --quiet)

echo "rsigma $RSIGMA over $EV" >&2
"$RSIGMA" engine eval -r "$RULES" -e "@$EV" --output-format ndjson --include-event \
  > "$OUT/rsigma.ndjson" 2> "$OUT/rsigma.err"
echo "sigil over $EV" >&2
"$ROOT/target/release/sigil" hunt --lateness 0 "$RULES" "$EV" > "$OUT/sigil.ndjson" 2> "$OUT/sigil.err"
# Sigil names an event FILE:LINE (docs/semantics.md 3.2): one (line, rule id) per event.
python3 - "$OUT/sigil.ndjson" "$OUT/sigil-pairs.ndjson" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        a = json.loads(line)
        for e in a["events"]:
            out.write(json.dumps({"rule": a["rule"]["id"], "event": int(e.rsplit(":", 1)[1])}) + "\n")
PY
python3 "$PB/compare.py" "$EV" sigil="$OUT/sigil-pairs.ndjson" rsigma="$OUT/rsigma.ndjson" --examples 5 \
  | tee "$OUT/compare.txt"
