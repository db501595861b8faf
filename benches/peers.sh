#!/usr/bin/env bash
# Sigil beside the peer evaluators (rsigma 0.23.0, sigma-rust; chainsaw when built) on the
# peer benchmark's workloads, in one run: ../shared/peer-bench/run.sh times every peer and
#   target/release/sigil hunt RULES EVENTS
# on the same rules and events and prints one markdown table (events per CPU-second, peak RSS,
# matches, rules loaded/rejected). CPU-seconds are the fair figure on a shared machine.
#
#   benches/peers.sh                    # both workloads, 1,000,000 events, 2 runs each
#   RUNS=1 WORKLOADS=corpus benches/peers.sh
#
# Knobs are run.sh's (see ../shared/peer-bench/README.md): PEER_BENCH_DIR (default
# /tmp/peer-bench), EVENTS_N, SEED, RUNS, PEERS, WORKLOADS, N_<peer>. SIGIL_SHARED points at
# the shared folder (default: ../shared next to this repository).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SIGIL_SHARED:-$ROOT/../shared}"
RUN="$SHARED/peer-bench/run.sh"
[ -x "$RUN" ] || { echo "peers.sh: $RUN not found (set SIGIL_SHARED)" >&2; exit 2; }
(cd "$ROOT" && cargo build --release --quiet)
exec "$RUN" -- "$ROOT/target/release/sigil" hunt RULES EVENTS
