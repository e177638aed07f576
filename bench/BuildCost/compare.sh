#!/usr/bin/env bash
# The compiler alone, two commits interleaved (issue 10's before/after on a shared machine): for each round, compiles
# A's annotated sources + generated files, A's twin, B's annotated, B's twin (each with its own csc.rsp, i.e. its own
# library), and prints the median of the per-round differences (annotated - twin) for A and for B, and per layer.
# Usage: bash bench/BuildCost/compare.sh <workA> <workB> [rounds=9]
#   where each work dir was made by measure.sh with WORK=<dir> (CSC_RUNS > 0, so it holds csc.rsp), e.g.
#   WORK=/tmp/bc-old RUNS=1 bash bench/BuildCost/measure.sh /path/to/old/checkout
#   WORK=/tmp/bc-new RUNS=1 bash bench/BuildCost/measure.sh
set -euo pipefail
A="${1:?workA}"; B="${2:?workB}"; ROUNDS="${3:-9}"; LAYERS=20
for w in "$A" "$B"; do [[ -f "$w/csc.rsp" ]] || { echo "compare.sh: $w/csc.rsp missing (run measure.sh with WORK=$w and CSC_RUNS > 0)" >&2; exit 1; }; done
CSC="$(grep -m1 -E '/Roslyn/bincore/csc ' "$A/emit.log" | sed -E 's/^ +//; s/ .*//')"
cpu() { # work a|p -> user+sys seconds
  local w="$1" TIMEFORMAT='%3U %3S' src
  if [[ $2 == a ]]; then
    mapfile -t src < <(find "$w/annotated/obj/Release/net10.0/generated" -name '*.cs' | sort)
    src=("$w/annotated/Layers.cs" "$w/annotated/Program.cs" "${src[@]}")
  else
    src=("$w/plain/Layers.cs" "$w/plain/Program.cs")
  fi
  { time (cd "$w/annotated" && "$CSC" @"$w/csc.rsp" "${src[@]}" >"$w/compare.log" 2>&1); } 2>"$w/compare.time" \
    || { tail -n 20 "$w/compare.log" >&2; echo "compare.sh: compile failed in $w" >&2; exit 1; }
  awk '{ printf "%.3f", $1 + $2 }' "$w/compare.time"
}
echo "A: $A   B: $B   $ROUNDS rounds; cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-5s %9s %9s %9s %9s %9s %9s %s\n' round A-annot A-twin B-annot B-twin A-diff B-diff load
DA=(); DB=()
for ((i = 1; i <= ROUNDS; i++)); do
  aa="$(cpu "$A" a)"; ap="$(cpu "$A" p)"; ba="$(cpu "$B" a)"; bp="$(cpu "$B" p)"
  da="$(awk -v x="$aa" -v y="$ap" 'BEGIN { printf "%.3f", x - y }')"; db="$(awk -v x="$ba" -v y="$bp" 'BEGIN { printf "%.3f", x - y }')"
  DA+=("$da"); DB+=("$db")
  printf '%-5s %9s %9s %9s %9s %9s %9s %s\n' "$i" "$aa" "$ap" "$ba" "$bp" "$da" "$db" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
awk -v a="$(median "${DA[@]}")" -v b="$(median "${DB[@]}")" -v n="$LAYERS" \
  'BEGIN { printf "median difference: A %.2f s (%.3f s per layer), B %.2f s (%.3f s per layer), B / A = %.2f\n", a, a / n, b, b / n, b / a }'
