#!/usr/bin/env bash
# bench/ab.sh OLD_MODULE NEW_MODULE [BENCH]: the same keyseal-bench against two builds of libkeyseal.so,
# alternately (old, new, old, new, ...), each on a fresh soft token, and the medians of the CPU-time rates
# side by side with their ratio. For "is this change slower?" on a machine whose load varies: alternating
# rounds see the same load. Reports, never judges. Environment: ROUNDS (3), ONLY (keyseal-bench --only;
# default sign,pss,ed25519,gcm,threads,objects), OBJECTS (2000), SECONDS_PER (1).
set -euo pipefail
OLD=${1:?old module}; NEW=${2:?new module}
BENCH=${3:-$(dirname "$0")/../build/bench/keyseal-bench}
ROUNDS=${ROUNDS:-3}; ONLY=${ONLY:-sign,pss,ed25519,gcm,threads,objects}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-ab.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
for round in $(seq "$ROUNDS"); do
  for v in old new; do
    m=$OLD; [ $v = new ] && m=$NEW
    t=$OUT/tok; rm -rf "$t"; mkdir -p "$t/store"
    printf 'store = %s\nargon2_m_cost_kib = 8192\nargon2_t_cost = 1\n' "$t/store" > "$t/keyseal.conf"
    KEYSEAL_STORE=$t/store KEYSEAL_CONF=$t/keyseal.conf "$BENCH" --module "$m" --init --so-pin ab-so-pin-1234 \
      --pin ab-user-pin-1234 --seconds "${SECONDS_PER:-1}" --objects "${OBJECTS:-2000}" --lookups 200 \
      --only "$ONLY" --json "$OUT/$v-$round.json" > "$OUT/$v-$round.log" 2>&1 ||
      { echo "ab.sh: $v round $round failed:" >&2; cat "$OUT/$v-$round.log" >&2; exit 1; }
  done
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = {v: [json.load(open(f"{out}/{v}-{i}.json"))["results"] for i in range(1, rounds + 1)] for v in ("old", "new")}
print("| metric | old | new | new/old |\n|---|---:|---:|---:|")
for key, first in runs["old"][0].items():
    if not isinstance(first, dict) or "value" not in first:
        continue
    med = {v: statistics.median(r[key].get("cpu_value", r[key]["value"]) for r in runs[v] if key in r) for v in runs}
    if med["old"]:
        print(f"| {first.get('label', key)} ({first.get('unit', '')}) | {med['old']:.1f} | {med['new']:.1f} | "
              f"{med['new'] / med['old']:.2f} |")
PY
