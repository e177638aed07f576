#!/usr/bin/env bash
# Build cost of the generated layers (issue 10): on a 20-layer console project,
#   (a) the generated output: lines, bytes, `global::` qualifiers and lines over 200 characters, per layer;
#   (b) the extra CPU a build spends per layer: median CPU (user + sys, whole process tree) of a full rebuild of the
#       project with the attributes, minus the same for its twin without them, divided by 20.
# Usage: bash bench/BuildCost/measure.sh [repo-root]      (default: the repository this script lives in)
# Environment: RUNS=3 (timed builds per project), CSC_RUNS=9 (rounds of the compiler alone, below; 0: skip),
#   KEEP=1 (keep the temp dir), WORK=<dir> (use this dir, kept),
#   TWIN=same (default: the twin's program is the annotated one with the 20 layer lines replaced by printing the class
#   names) or TWIN=empty (the twin's program only prints the class names: the measure before the eighth session).
# What is measured and why: bench/BuildCost/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${1:-$(git -C "$HERE" rev-parse --show-toplevel)}" && pwd)"
RUNS="${RUNS:-3}"
CSC_RUNS="${CSC_RUNS:-9}"
TWIN="${TWIN:-same}"
[[ "$TWIN" == same || "$TWIN" == empty ]] || { echo "measure.sh: TWIN must be 'same' or 'empty'" >&2; exit 1; }
LAYERS=20

if [[ -n "${WORK:-}" ]]; then
  KEEP=1
  rm -rf "$WORK"; mkdir -p "$WORK"
else
  WORK="$(mktemp -d /tmp/buildcost.XXXXXX)"
fi
if [[ "${KEEP:-0}" != 1 ]]; then trap 'rm -rf "$WORK"' EXIT; fi

# Every process of a build is a child of the timed `dotnet` process and ends with it: no MSBuild server, no node
# reuse, one MSBuild node (-m:1), and (below, per build) no compiler server, so the compiler's CPU is in the tree.
export DOTNET_CLI_USE_MSBUILD_SERVER=0 MSBUILDDISABLENODEREUSE=1 DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
BUILD_FLAGS=(-c Release --no-restore -nodeReuse:false -m:1 -p:BuildProjectReferences=false -p:UseSharedCompilation=false)

log() { printf '%s\n' "$*"; }
fail() { log "measure.sh: $*" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

log "== NormKernels build cost (bench/BuildCost/measure.sh) =="
log "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
log "repo:     $REPO at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
log "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores online"
log "sdk:      $(dotnet --version)"
log "uptime:   $(uptime)"
log "work dir: $WORK"
log "twin:     $TWIN (the twin's program: $([[ $TWIN == same ]] && echo "the annotated one without the 20 layer use sites" || echo "prints the 20 class names only"))"

# 1. The library and the generator, built once: the timed builds reference their outputs and do not rebuild them.
log ""
log "-- building src/NormKernels (+ the generator) once, not timed"
dotnet build "$REPO/src/NormKernels/NormKernels.csproj" -c Release -nodeReuse:false >"$WORK/library.log" 2>&1 \
  || { tail -n 30 "$WORK/library.log"; fail "the library build failed (log: $WORK/library.log)"; }

# 2. The two projects: the same csproj and classes; the twin has the attribute lines removed and the program without
#    the layers' use sites (TWIN=same) or a program that only prints the class names (TWIN=empty).
make_project() { # dir
  mkdir -p "$1"
  sed "s|@REPO@|$REPO|g" "$HERE/template/BuildCost.csproj.in" >"$1/BuildCost.csproj"
}
ANN="$WORK/annotated"; PLAIN="$WORK/plain"
make_project "$ANN"; make_project "$PLAIN"
cp "$HERE/template/Layers.cs" "$HERE/template/Program.cs" "$ANN/"
grep -v -E '^\[(Normalize|LocalResponseNormalize)\(' "$HERE/template/Layers.cs" >"$PLAIN/Layers.cs"
mapfile -t CLASSES < <(grep -oP 'partial class \K\w+' "$HERE/template/Layers.cs")
[[ ${#CLASSES[@]} == "$LAYERS" ]] || fail "template/Layers.cs declares ${#CLASSES[@]} classes, expected $LAYERS"
[[ $(grep -c -E '^\[(Normalize|LocalResponseNormalize)\(' "$HERE/template/Layers.cs") == "$LAYERS" ]] \
  || fail "template/Layers.cs must have one attribute line per class"
if [[ "$TWIN" == empty ]]; then
  {
    log "// The twin project's program: the same 20 classes, without attributes, so no layer members to call."
    log "using BuildCostApp;"
    log ""
    for cls in "${CLASSES[@]}"; do log "Console.WriteLine(typeof($cls).Name);"; done
  } >"$PLAIN/Program.cs"
else
  # The annotated program with each layer's use site (the line `new <Class>(...)...`) replaced by printing the class's
  # name: the program's own code (arrays, fill loops, the checksum's interpolated string) is in both projects.
  sed -E 's/^new ([A-Za-z0-9_]+)\(.*$/Console.WriteLine(typeof(\1).Name);/' "$HERE/template/Program.cs" >"$PLAIN/Program.cs"
  [[ $(grep -c -E '^Console\.WriteLine\(typeof\(' "$PLAIN/Program.cs") == "$LAYERS" ]] \
    || fail "template/Program.cs must have one use-site line per layer, starting with 'new <Class>('"
fi

for p in "$ANN" "$PLAIN"; do
  dotnet restore "$p/BuildCost.csproj" >"$p/restore.log" 2>&1 || { tail -n 30 "$p/restore.log"; fail "restore of $p failed"; }
done

# 3. Generated output (this build is also the annotated project's warm-up). ReportAnalyzer makes the compiler print
#    each generator's own time (Roslyn's per-generator wall clock inside the compilation), read from the log.
log "-- generated output (build with EmitCompilerGeneratedFiles, ReportAnalyzer), not timed"
dotnet build "$ANN/BuildCost.csproj" "${BUILD_FLAGS[@]}" -p:EmitCompilerGeneratedFiles=true -p:ReportAnalyzer=true -v:d \
  >"$WORK/emit.log" 2>&1 || { grep -E 'error|warning CS878' "$WORK/emit.log" | head -n 30; fail "the annotated build failed (log: $WORK/emit.log)"; }
dotnet "$ANN/bin/Release/net10.0/BuildCost.dll" >"$WORK/run.log" 2>&1 \
  || { cat "$WORK/run.log"; fail "the annotated program failed to run"; }
log "program:  $(tail -n 1 "$WORK/run.log")"

GEN="$ANN/obj/Release/net10.0/generated"
mapfile -t GEN_DIRS < <(find "$GEN" -mindepth 1 -maxdepth 1 -type d -name 'NormKernels*' | sort)
[[ ${#GEN_DIRS[@]} -gt 0 ]] || fail "no generated files under $GEN"
mapfile -t FILES < <(find "${GEN_DIRS[@]}" -type f -name '*.cs' | sort)
stats() { # files... -> "lines bytes global long"
  if [[ $# == 0 ]]; then echo "0 0 0 0"; return; fi
  # Lengths in bytes (LC_ALL=C, as mawk always does): the generated code is ASCII but for the BOM.
  cat "$@" | LC_ALL=C awk -v bytes="$(cat "$@" | wc -c)" \
    '{ lines++; g += gsub(/global::/, "&"); if (length($0) > 200) long++ } END { printf "%d %d %d %d\n", lines, bytes, g, long }'
}
declare -A USED=()
printf '\n%-12s %8s %10s %9s %10s %6s\n' layer lines bytes global:: ">200chars" files
for cls in "${CLASSES[@]}"; do
  mine=()
  for f in "${FILES[@]}"; do
    b="$(basename "$f")"
    if [[ "$b" == "$cls."* || "$b" == *".$cls."* ]]; then mine+=("$f"); USED["$f"]=1; fi
  done
  read -r l b g lo <<<"$(stats "${mine[@]}")"
  printf '%-12s %8d %10d %9d %10d %6d\n' "$cls" "$l" "$b" "$g" "$lo" "${#mine[@]}"
done
shared=()
for f in "${FILES[@]}"; do [[ -n "${USED[$f]:-}" ]] || shared+=("$f"); done
read -r l b g lo <<<"$(stats "${shared[@]}")"
printf '%-12s %8d %10d %9d %10d %6d\n' "(shared)" "$l" "$b" "$g" "$lo" "${#shared[@]}"
read -r TL TB TG TLO <<<"$(stats "${FILES[@]}")"
printf '%-12s %8d %10d %9d %10d %6d\n' TOTAL "$TL" "$TB" "$TG" "$TLO" "${#FILES[@]}"
awk -v l="$TL" -v b="$TB" -v g="$TG" -v lo="$TLO" -v n="$LAYERS" \
  'BEGIN { printf "%-12s %8.0f %10.0f %9.0f %10.1f\n", "per layer", l / n, b / n, g / n, lo / n }'
log "(generated by: $(for d in "${GEN_DIRS[@]}"; do basename "$d"; done | tr '\n' ' '); shared = files named after no layer)"

# Generator and analyzer time as Roslyn reports it (ReportAnalyzer): wall clock inside the one compilation, seconds.
# The twin's warm-up build reports the same, so the analyzers' share of the difference shows (the SDK's
# NetAnalyzers run over the generated code too).
analyzer_report() { # log -> "analyzersTotal nkAnalyzers generatorsTotal nkGenerators"
  awk '/Total analyzer execution time:/  { sec = "a"; at = $5 }
       /Total generator execution time:/ { sec = "g"; gt = $5 }
       /NormKernels\.Generators, Version=/ { if (sec == "a") na = $1; else if (sec == "g") ng = $1 }
       END { printf "%s %s %s %s\n", at ? at : "?", na ? na : "0", gt ? gt : "?", ng ? ng : "0" }' "$1"
}
nk_generators() { # log -> "Name time, ..." for each NormKernels generator type
  awk '/Total generator execution time:/ { on = 1 } on && /NormKernels\.Generators\.[A-Za-z]+Generator/ {
         n = split($NF, part, "."); printf "%s%s %s s", sep, part[n], $1; sep = ", " } END { print "" }' "$1"
}

# The twin's warm-up build, with ReportAnalyzer too.
dotnet build "$PLAIN/BuildCost.csproj" "${BUILD_FLAGS[@]}" -p:ReportAnalyzer=true -v:d >"$WORK/plain-warmup.log" 2>&1 \
  || { grep -E 'error' "$WORK/plain-warmup.log" | head -n 30; fail "the twin build failed (log: $WORK/plain-warmup.log)"; }
read -r AA ANK AG AGNK <<<"$(analyzer_report "$WORK/emit.log")"
read -r PA PNK PG PGNK <<<"$(analyzer_report "$WORK/plain-warmup.log")"
log ""
log "ReportAnalyzer (one build each; wall clock inside the compiler, not CPU; noisy under load):"
log "  generators: annotated $AG s (NormKernels $AGNK s: $(nk_generators "$WORK/emit.log")), twin $PG s (NormKernels $PGNK s)"
log "  analyzers:  annotated $AA s (NormKernels $ANK s), twin $PA s (NormKernels $PNK s)"

# 4. Build CPU. RUNS full rebuilds of each project, interleaved (A B A B ...) so a change in the machine's load hits
#    both alike. Each rebuilds that project only (--no-incremental; no project references built) and is timed as the
#    user + sys CPU of the whole process tree (bash `time`: the CPU of every child the build waited for).
timed_build() { # project-dir label run -> "user sys wall"
  local logf="$WORK/$2-$3.log" tf="$WORK/$2-$3.time"
  local TIMEFORMAT='%3U %3S %3R'
  { time dotnet build "$1/BuildCost.csproj" "${BUILD_FLAGS[@]}" --no-incremental >"$logf" 2>&1; } 2>"$tf" \
    || { tail -n 30 "$logf" >&2; fail "timed build $2 #$3 failed (log: $logf)"; }
  # The library must not be rebuilt in a timed run: its compile would show up as a second "-> ....dll" line.
  if grep -q -E 'NormKernels(\.Generators)? -> ' "$logf"; then fail "timed build $2 #$3 rebuilt the library (log: $logf)"; fi
  cat "$tf"
}
log ""
log "-- timed builds: $RUNS x (annotated, twin), full rebuild, UseSharedCompilation=false; load before: $(load)"
A_CPU=(); P_CPU=()
printf '%-5s %-10s %8s %8s %8s %8s %s\n' run project user sys cpu wall load
for ((i = 1; i <= RUNS; i++)); do
  for which in annotated plain; do
    dir="$ANN"; [[ $which == plain ]] && dir="$PLAIN"
    measured="$(timed_build "$dir" "$which" "$i")" || exit 1
    read -r u s r <<<"$measured"
    cpu="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')"
    if [[ $which == annotated ]]; then A_CPU+=("$cpu"); else P_CPU+=("$cpu"); fi
    printf '%-5s %-10s %8s %8s %8s %8s %s\n' "$i" "$which" "$u" "$s" "$cpu" "$r" "$(load)"
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
MA="$(median "${A_CPU[@]}")"; MP="$(median "${P_CPU[@]}")"

# 5. The compiler alone (CSC_RUNS rounds): the annotated build's own csc command line (from emit.log), without the
#    generator and with its output files given as sources, against the same command line with the twin's sources; in
#    each round one of each, back to back, and the median of the per-round differences. It leaves out MSBuild and the
#    generator's run (measured small: the generator's output compiled as sources costs what the generator build costs)
#    and pairs each annotated compile with a twin compile of the same minute, so the host's slow and fast minutes
#    cancel more often than in the whole builds' medians (the eighteenth session: the whole builds' measure spanned
#    0.070-0.128 s per layer in one afternoon, this one 0.063-0.072 s). Paths must not contain spaces.
CSC_DIFFS=()
if (( CSC_RUNS > 0 )); then
  CSC_LINE="$(grep -m1 -E '/Roslyn/bincore/csc ' "$WORK/emit.log" | sed -E 's/^ +//')"
  [[ -n "$CSC_LINE" ]] || fail "no csc command line in $WORK/emit.log"
  CSC="${CSC_LINE%% *}"
  # The command line's options and library sources, minus the generator, the layer sources and the outputs.
  tr ' ' '\n' <<<"${CSC_LINE#* }" | grep -v -E '^(/noconfig|/reportanalyzer|/generatedfilesout:.*|/out:.*|/refout:.*|/analyzer:.*NormKernels\.Generators\.dll|Layers\.cs|Program\.cs)$' \
    >"$WORK/csc.rsp"
  echo "/out:$WORK/csc-out.dll" >>"$WORK/csc.rsp"
  csc_cpu() { # sources... -> user+sys seconds
    local TIMEFORMAT='%3U %3S' tf="$WORK/csc.time"
    { time (cd "$ANN" && "$CSC" @"$WORK/csc.rsp" "$@" >"$WORK/csc.log" 2>&1); } 2>"$tf" \
      || { tail -n 20 "$WORK/csc.log" >&2; fail "the compiler alone failed (log: $WORK/csc.log)"; }
    awk '{ printf "%.3f", $1 + $2 }' "$tf"
  }
  log ""
  log "-- the compiler alone: $CSC_RUNS rounds of (annotated sources + the generated files, twin sources), no generator"
  printf '%-5s %10s %10s %10s %s\n' round annotated twin difference load
  for ((i = 1; i <= CSC_RUNS; i++)); do
    a="$(csc_cpu "$ANN/Layers.cs" "$ANN/Program.cs" "${FILES[@]}")"
    p="$(csc_cpu "$PLAIN/Layers.cs" "$PLAIN/Program.cs")"
    d="$(awk -v a="$a" -v p="$p" 'BEGIN { printf "%.3f", a - p }')"
    CSC_DIFFS+=("$d")
    printf '%-5s %10s %10s %10s %s\n' "$i" "$a" "$p" "$d" "$(load)"
  done
fi

log ""
log "== summary =="
log "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load after: $(load)"
awk -v l="$TL" -v b="$TB" -v g="$TG" -v lo="$TLO" -v n="$LAYERS" \
  'BEGIN { printf "generated: %d lines, %d bytes, %d global::, %d lines > 200 chars for %d layers\n", l, b, g, lo, n
           printf "per layer: %.0f lines, %.0f bytes, %.0f global::, %.1f lines > 200 chars   (target: <= 400 lines)\n", l / n, b / n, g / n, lo / n }'
awk -v a="$MA" -v p="$MP" -v n="$LAYERS" -v r="$RUNS" \
  'BEGIN { printf "build CPU (median of %d, user+sys): annotated %.2f s, twin %.2f s, difference %.2f s\n", r, a, p, a - p
           printf "extra build CPU per layer: %.3f s   (target: <= 0.06 s)\n", (a - p) / n
           printf "relative to the twin: annotated / twin = %.2f; extra per layer / twin = %.4f (varies less with the load)\n", a / p, (a - p) / n / p }'
if (( CSC_RUNS > 0 )); then
  awk -v d="$(median "${CSC_DIFFS[@]}")" -v n="$LAYERS" -v r="$CSC_RUNS" \
    'BEGIN { printf "compiler alone (csc, median of %d paired differences): %.2f s, per layer %.3f s\n", r, d, d / n }'
fi
