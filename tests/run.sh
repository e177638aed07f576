#!/usr/bin/env bash
# THE test command of NormKernels. Run from anywhere: bash tests/run.sh [extra `dotnet test` args]
#
# 1. Builds NormKernels.sln once, in Release.
# 2. Runs every test project of the solution at this machine's default instruction set ("default").
# 3. Re-runs the kernel tests (tests/NormKernels.Tests) three times with the runtime's ISA switches
#    off, so every generated path runs on one machine; NORMKERNELS_EXPECT_PATH tells the tests which
#    path (a KernelPath name) they must observe:
#      avx2       DOTNET_EnableAVX512=0       -> Vector256
#      vector128  DOTNET_EnableAVX2=0         -> Vector128
#      scalar     DOTNET_EnableHWIntrinsic=0  -> Scalar
#    The default leg expects Vector512 only where the CPU has avx512f (and the runtime accelerates
#    512-bit vectors); elsewhere it sets no expectation. (.NET 10 ignores the old
#    DOTNET_EnableAVX512F name: the tests assert the path, so a dead switch cannot pass silently.)
# 4. Publishes the kernel tests once for linux-arm64 (self-contained, invariant globalization; an
#    xunit.v3 test project is a program) and runs that program twice on the real ARM64 .NET runtime
#    under qemu user-mode emulation, with NORMKERNELS_EXPECT_ARCH=Arm64:
#      arm64         (AdvSimd)                   -> Vector128
#      arm64-scalar  DOTNET_EnableHWIntrinsic=0  -> Scalar
#    Both set DOTNET_EnableWriteXorExecute=0 (the JIT's W^X double mapping fails at random under
#    qemu). They need qemu-aarch64(-static) and the arm64 libc, libstdc++ and libssl (xunit.v3 hashes
#    test ids with SHA-256, i.e. OpenSSL) as Debian multiarch packages; without them, or on a
#    machine that cannot run qemu, each leg prints why and counts its tests as skipped.
#    Emulation proves the ARM64 results, not ARM64 speed: nothing is timed there.
# 5. Runs the MPI leg ("mpi"): tests/NormKernels.Mpi.Tests, a console program, on 2 and then 3 processes
#    under mpiexec.mpich (MPICH: `apt-get install mpich libmpich-dev`). Rank 0 writes its counts to a file
#    (passed=N failed=N); a run that exits non-zero without a failed case, or writes no counts, counts 1
#    failed. Without mpiexec.mpich or libmpich.so.12 the leg prints why and counts its 2 runs as skipped.
#
# Counts come from each leg's TRX files (<Counters>), never from console text. The last line of
# output is "N passed, N failed" (", N skipped" is appended when tests were skipped), summed over
# legs, where failed = failed tests + 1 for each leg that broke (dotnet exited non-zero without a
# failed test, a TRX file was missing or unreadable, or the leg ran no test).
# Exit status: 0 only when the build and every leg succeeded.
#
# Environment knobs (all optional):
#   NORMKERNELS_LEGS             legs to run, default "default avx2 vector128 scalar arm64 arm64-scalar mpi"
#   NORMKERNELS_MPI_TIMEOUT      seconds each MPI run may take before it is killed (and fails), default 300
#   NORMKERNELS_ARM64_ARGS       xunit.v3 filter arguments for both arm64 legs, e.g. '-class *ArmPathTests'
#   NORMKERNELS_ARM64_TIMEOUT    an arm64 leg still running after this long is killed and fails, default 40m
#   NORMKERNELS_QEMU             the qemu user-mode emulator, default qemu-aarch64-static (or qemu-aarch64)
#   NORMKERNELS_ARM64_SYSROOT    root of the arm64 libraries for qemu -L, default / (Debian multiarch)
#   NORMKERNELS_RESULTS_DIR      where TRX files go, default TestResults/run (git-ignored)
#   NORMKERNELS_TEST_VERBOSITY   console logger verbosity, default minimal (normal lists every test)
#   NORMKERNELS_HANG_TIMEOUT     a test host silent this long is killed and its leg fails, default 20m

set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$(pwd)

SOLUTION=NormKernels.sln
KERNEL_TESTS=tests/NormKernels.Tests/NormKernels.Tests.csproj
BENCH_DLL=bench/NormKernels.Bench/bin/Release/net10.0/NormKernels.Bench.dll
MPI_TESTS_DLL=tests/NormKernels.Mpi.Tests/bin/Release/net10.0/NormKernels.Mpi.Tests.dll
LEGS=${NORMKERNELS_LEGS:-default avx2 vector128 scalar arm64 arm64-scalar mpi}
RESULTS=${NORMKERNELS_RESULTS_DIR:-$ROOT/TestResults/run}
VERBOSITY=${NORMKERNELS_TEST_VERBOSITY:-minimal}
HANG_TIMEOUT=${NORMKERNELS_HANG_TIMEOUT:-20m}
ARM64_TIMEOUT=${NORMKERNELS_ARM64_TIMEOUT:-40m}
ARM64_SYSROOT=${NORMKERNELS_ARM64_SYSROOT:-/}
ARM64_BUILD=$ROOT/artifacts/arm64   # publish output of the kernel tests for linux-arm64 (git-ignored)
read -r -a ARM64_ARGS <<< "${NORMKERNELS_ARM64_ARGS:-}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '%s\n' "$*"; }
banner() { say ""; say "=== $* ==="; }

# ISA switches inherited from the caller would skew every leg: each leg sets its own.
for var in $(compgen -e); do
    case "$var" in
        DOTNET_Enable*|COMPlus_Enable*|DOTNET_PreferredVectorBitWidth|DOTNET_MaxVectorTBitWidth)
            case "$var" in *HWIntrinsic|*AVX*|*SSE*|*FMA|*BMI*|*LZCNT|*POPCNT|*MOVBE|*AES|*PCLMULQDQ|*GFNI|*SHA|*APX|*Arm*|*Vector*)
                say "note: unsetting inherited $var=${!var}"; unset "$var" ;;
            esac ;;
        NORMKERNELS_EXPECT_PATH|NORMKERNELS_EXPECT_ARCH)
            say "note: unsetting inherited $var=${!var}"; unset "$var" ;;
    esac
done

# ---------------------------------------------------------------------------------------------
banner "build ($SOLUTION, Release)"
# --disable-build-servers: no compiler/MSBuild server outlives this script (CI waits for none,
# and a developer's concurrent builds keep theirs).
dotnet build "$SOLUTION" -c Release --verbosity minimal --disable-build-servers
build_rc=$?
if [ "$build_rc" -ne 0 ]; then
    say ""
    say "FAILED: the build exited with $build_rc; no test leg ran."
    say "0 passed, 1 failed"
    exit "$build_rc"
fi

# ---------------------------------------------------------------------------------------------
# The widest path the runtime gives the kernels under a leg's switches, as the library decides it
# (Isa.Widest, via the benchmark program's --isa). "unknown" when the program is not there.
probe_path() {
    if [ -f "$BENCH_DLL" ]; then
        env "$@" dotnet "$BENCH_DLL" --isa 2>/dev/null | head -n 1 | tr -d '\r'
    else
        say unknown
    fi
}

default_expect=""
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    widest=$(probe_path)
    case "$widest" in
        Vector512|unknown|"") default_expect=Vector512 ;;
        *) say "note: the CPU has avx512f but the runtime does not accelerate 512-bit vectors here" \
               "(widest path: $widest); the default leg sets no NORMKERNELS_EXPECT_PATH." ;;
    esac
fi

# Test projects in the solution (the ones referencing Microsoft.NET.Test.Sdk): the default leg
# must produce one TRX file for each.
test_projects=0
while IFS= read -r proj; do
    proj=${proj//\\//}
    [ -f "$proj" ] && grep -q 'Microsoft.NET.Test.Sdk' "$proj" && test_projects=$((test_projects + 1))
done < <(dotnet sln "$SOLUTION" list 2>/dev/null | tr -d '\r' | grep -E '\.csproj$')
[ "$test_projects" -gt 0 ] || test_projects=1

rm -rf "$RESULTS"
mkdir -p "$RESULTS"

# ---------------------------------------------------------------------------------------------
# One TRX file's <Counters>; sets C_TOTAL C_PASSED C_FAILED (failed + error + timeout + aborted).
# Returns 1 when the file has no readable counters.
read_counters() {
    local counters attr value
    counters=$(tr -d '\r' 2>/dev/null < "$1" | tr '\n' ' ' | grep -o '<Counters [^>]*>' | head -n 1)
    [ -n "$counters" ] || return 1
    C_TOTAL=""; C_PASSED=""; C_FAILED=0
    for attr in total passed failed error timeout aborted; do
        value=$(printf '%s' "$counters" | sed -n "s/.* $attr=\"\([0-9][0-9]*\)\".*/\1/p")
        case "$attr" in
            total)  C_TOTAL=$value ;;
            passed) C_PASSED=$value ;;
            failed) [ -n "$value" ] || return 1; C_FAILED=$((C_FAILED + value)) ;;
            *)      C_FAILED=$((C_FAILED + ${value:-0})) ;;
        esac
    done
    [ -n "$C_TOTAL" ] && [ -n "$C_PASSED" ]
}

# The failed tests of one TRX file, a line each: "FAILED <test name>: <first 300 characters of its message>", so that the
# summary at the end of the output (which may be all of it a reader sees) names them.
failed_tests() {
    tr -d '\r' 2>/dev/null < "$1" | tr '\n' ' ' | sed 's/<UnitTestResult /\n<UnitTestResult /g' | grep '^<UnitTestResult [^>]*outcome="Failed"' |
        sed -e 's/^<UnitTestResult [^>]*testName="\([^"]*\)".*<Message>\([^<]\{0,300\}\).*/FAILED \1: \2/' \
            -e 's/^<UnitTestResult [^>]*testName="\([^"]*\)".*/FAILED \1/' \
            -e 's/&quot;/"/g; s/&lt;/</g; s/&gt;/>/g; s/&apos;/'"'"'/g; s/&amp;/\&/g'
}

SUM_PASSED=0
SUM_FAILED=0
SUM_SKIPPED=0
SUMMARY=()
BROKEN=()

run_leg() {
    local leg=$1 target=$2 expect=$3 trx_expected=$4; shift 4
    local dir="$RESULTS/$leg" logger
    local -a envs=("$@")
    [ -n "$expect" ] && envs+=("NORMKERNELS_EXPECT_PATH=$expect")

    # A solution-wide run cannot use one LogFileName: every test project would overwrite the same
    # file. There LogFilePrefix gives each project its own file (<leg>_net10.0_<time>[_n].trx,
    # reserved atomically by the logger); every *.trx of the leg is summed.
    if [ "$target" = "$SOLUTION" ]; then logger="trx;LogFilePrefix=$leg"; else logger="trx;LogFileName=$leg.trx"; fi

    banner "leg $leg: $target ${envs[*]:-(no ISA switch)}"
    say "runtime's widest kernel path under these switches: $(probe_path "${envs[@]}")"
    env "${envs[@]}" dotnet test "$target" --no-build -c Release --verbosity minimal \
        --disable-build-servers \
        --logger "$logger" --logger "console;verbosity=$VERBOSITY" \
        --results-directory "$dir" \
        --blame-hang-timeout "$HANG_TIMEOUT" --blame-hang-dump-type none \
        "${EXTRA_ARGS[@]}"
    count_leg "$leg" "$dir" $? "$trx_expected" "dotnet test" "${expect:-none set}"
}

# Sums a leg's TRX files into the totals and prints the leg's line.
# count_leg LEG DIR EXIT_STATUS TRX_EXPECTED WHAT ASSERTED (what ran, for the message on a bad
# exit; what the leg asserted, for its line).
count_leg() {
    local leg=$1 dir=$2 rc=$3 trx_expected=$4 what=$5 asserted=$6
    local passed=0 failed=0 total=0 files=0 f
    local -a problems=()
    shopt -s nullglob
    for f in "$dir"/*.trx; do
        files=$((files + 1))
        if read_counters "$f"; then
            passed=$((passed + C_PASSED)); failed=$((failed + C_FAILED)); total=$((total + C_TOTAL))
        else
            problems+=("unreadable TRX ${f#"$ROOT"/}")
        fi
    done
    shopt -u nullglob
    [ "$files" -lt "$trx_expected" ] && problems+=("expected $trx_expected TRX file(s), found $files")
    [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && problems+=("$what exited with $rc")
    [ "$total" -eq 0 ] && problems+=("no test ran")

    local skipped=$((total - passed - failed))
    [ "$skipped" -lt 0 ] && skipped=0
    local counted_failed=$failed
    [ "${#problems[@]}" -gt 0 ] && counted_failed=$((failed + 1))

    local line="leg $leg: $passed passed, $counted_failed failed"
    [ "$skipped" -gt 0 ] && line+=", $skipped skipped"
    line+="  (path asserted: $asserted)"
    if [ "${#problems[@]}" -gt 0 ]; then
        local joined
        joined=$(printf '%s; ' "${problems[@]}")
        line+="  <- BROKEN: ${joined%; }"
        BROKEN+=("$leg")
    elif [ "$failed" -gt 0 ]; then
        BROKEN+=("$leg")
    fi
    SUMMARY+=("$line")
    say "$line"
    if [ "$failed" -gt 0 ]; then
        local name
        shopt -s nullglob
        for f in "$dir"/*.trx; do
            while IFS= read -r name; do SUMMARY+=("    $name"); say "    $name"; done < <(failed_tests "$f" | head -n 20)
        done
        shopt -u nullglob
    fi

    SUM_PASSED=$((SUM_PASSED + passed))
    SUM_FAILED=$((SUM_FAILED + counted_failed))
    SUM_SKIPPED=$((SUM_SKIPPED + skipped))
}

# The MPI leg: the MPI test program on 2 and 3 processes; counts from the file rank 0 writes.
run_mpi_leg() {
    local dir="$RESULTS/mpi" ranks
    banner "leg mpi: $MPI_TESTS_DLL under mpiexec.mpich -n 2 and -n 3"
    local missing=""
    command -v mpiexec.mpich >/dev/null 2>&1 || missing="mpiexec.mpich is not on PATH"
    if [ -z "$missing" ] && ! { PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | grep -q 'libmpich\.so\.12' ||
                                 compgen -G '/usr/lib*/**/libmpich.so.12' >/dev/null || compgen -G '/usr/lib/*/libmpich.so.12' >/dev/null; }; then
        missing="libmpich.so.12 is not installed"
    fi
    if [ -n "$missing" ]; then
        say "SKIPPED: $missing (install MPICH: apt-get install mpich libmpich-dev); the 2 MPI runs count as skipped."
        SUMMARY+=("leg mpi: 0 passed, 0 failed, 2 skipped  <- MPI not installed: $missing")
        SUM_SKIPPED=$((SUM_SKIPPED + 2))
        return
    fi
    mkdir -p "$dir"
    local passed=0 failed=0 counted_failed=0 start end rc
    local -a problems=() timings=()
    for ranks in 2 3; do
        local counts="$dir/ranks$ranks.counts"
        rm -f "$counts"
        start=$(date +%s%N)
        timeout "${NORMKERNELS_MPI_TIMEOUT:-300}" mpiexec.mpich -n "$ranks" dotnet "$MPI_TESTS_DLL" "$counts" 2>&1 \
            | grep -v 'yaksa: [0-9]* leaked handle pool objects'
        rc=${PIPESTATUS[0]}
        end=$(( ($(date +%s%N) - start) / 100000000 ))
        timings+=("$ranks ranks $((end / 10)).$((end % 10)) s")
        local p f
        p=$(sed -n 's/^passed=\([0-9][0-9]*\) failed=[0-9][0-9]*$/\1/p' "$counts" 2>/dev/null)
        f=$(sed -n 's/^passed=[0-9][0-9]* failed=\([0-9][0-9]*\)$/\1/p' "$counts" 2>/dev/null)
        if [ -z "$p" ] || [ -z "$f" ]; then
            problems+=("$ranks ranks: no counts (exit $rc)"); counted_failed=$((counted_failed + 1)); continue
        fi
        passed=$((passed + p)); failed=$((failed + f)); counted_failed=$((counted_failed + f))
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { problems+=("$ranks ranks: mpiexec exited with $rc"); counted_failed=$((counted_failed + 1)); }
        [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && { problems+=("$ranks ranks: no case ran"); counted_failed=$((counted_failed + 1)); }
    done
    local line="leg mpi: $passed passed, $counted_failed failed ($(IFS=,; echo "${timings[*]}" | sed 's/,/, /g'))"
    if [ "${#problems[@]}" -gt 0 ]; then
        local joined
        joined=$(printf '%s; ' "${problems[@]}")
        line+="  <- BROKEN: ${joined%; }"
        BROKEN+=(mpi)
    elif [ "$failed" -gt 0 ]; then
        BROKEN+=(mpi)
    fi
    SUMMARY+=("$line")
    say "$line"
    SUM_PASSED=$((SUM_PASSED + passed))
    SUM_FAILED=$((SUM_FAILED + counted_failed))
}

# ---------------------------------------------------------------------------------------------
# The arm64 legs. arm64_prepare runs once: it finds the emulator and the arm64 libraries, checks
# that qemu can run an arm64 program at all, and publishes the kernel tests. ARM64_STATE ends as
# "ready", "skip" (ARM64_REASON says why: no emulation on this machine) or "broken" (the publish
# failed: counted as a failure, like a failed build).
ARM64_STATE=""
ARM64_REASON=""
ARM64_INSTALL="sudo dpkg --add-architecture arm64 && sudo apt-get update && sudo apt-get install -y qemu-user-static libc6:arm64 libstdc++6:arm64 libssl3:arm64"

arm64_prepare() {
    [ -n "$ARM64_STATE" ] && return
    ARM64_STATE=skip
    QEMU=${NORMKERNELS_QEMU:-$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)}
    if [ -z "$QEMU" ] || ! "$QEMU" --version >/dev/null 2>&1; then
        ARM64_REASON="no qemu user-mode emulator (qemu-aarch64-static) on this machine; install with: $ARM64_INSTALL"
        return
    fi
    local lib dir found missing=""
    for lib in ld-linux-aarch64.so.1 libc.so.6 libstdc++.so.6 libgcc_s.so.1 libssl.so.3 libcrypto.so.3; do
        found=""
        for dir in lib lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
            [ -e "${ARM64_SYSROOT%/}/$dir/$lib" ] && found=yes
        done
        [ -n "$found" ] || missing+=" $lib"
    done
    if [ -n "$missing" ]; then
        ARM64_REASON="arm64 libraries missing under sysroot '$ARM64_SYSROOT':$missing; install with: $ARM64_INSTALL"
        return
    fi
    # The emulator can be there and still not run (a sandbox refusing it): ask the arm64 dynamic
    # loader for its version before anything is built.
    local probe
    probe=$(timeout 2m "$QEMU" -L "$ARM64_SYSROOT" "$(arm64_loader)" --version 2>&1 | head -n 1)
    if ! printf '%s' "$probe" | grep -qi 'ld.so\|glibc\|library'; then
        ARM64_REASON="qemu cannot run an arm64 program here ($QEMU: ${probe:-no output})"
        return
    fi

    banner "arm64: publish $KERNEL_TESTS for linux-arm64 (self-contained) into ${ARM64_BUILD#"$ROOT"/}"
    say "emulator: $QEMU ($("$QEMU" --version 2>/dev/null | head -n 1)), sysroot: $ARM64_SYSROOT"
    dotnet publish "$KERNEL_TESTS" -c Release -r linux-arm64 --self-contained \
        -p:InvariantGlobalization=true --artifacts-path "$ARM64_BUILD" \
        --verbosity minimal --disable-build-servers
    local rc=$?
    ARM64_EXE=$ARM64_BUILD/publish/NormKernels.Tests/release_linux-arm64/NormKernels.Tests
    if [ "$rc" -ne 0 ] || [ ! -f "$ARM64_EXE" ]; then
        ARM64_STATE=broken
        ARM64_REASON="dotnet publish -r linux-arm64 exited with $rc (program ${ARM64_EXE#"$ROOT"/} present: $([ -f "$ARM64_EXE" ] && echo yes || echo no))"
        return
    fi
    ARM64_STATE=ready
}

arm64_loader() {
    local dir
    for dir in lib lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
        [ -e "${ARM64_SYSROOT%/}/$dir/ld-linux-aarch64.so.1" ] && { printf '%s' "/$dir/ld-linux-aarch64.so.1"; return; }
    done
}

# How many tests a skipped arm64 leg would have run: the native build's own listing, same filters.
arm64_test_count() {
    local dll=tests/NormKernels.Tests/bin/Release/net10.0/NormKernels.Tests.dll count
    count=$(dotnet "$dll" -list tests -preEnumerateTheories -noColor "$@" 2>/dev/null | tr -d '\r' | grep -c '^NormKernels\.')
    [ "${count:-0}" -gt 0 ] && printf '%s' "$count" || printf '1'
}

run_arm64_leg() {
    local leg=$1 expect=$2; shift 2
    local dir="$RESULTS/$leg"
    local -a envs=(DOTNET_EnableWriteXorExecute=0 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
        NORMKERNELS_EXPECT_ARCH=Arm64 "NORMKERNELS_EXPECT_PATH=$expect")
    local -a filters=("${ARM64_ARGS[@]}")
    # Switches before the first "--" are environment; after it, xunit.v3 filters of this leg.
    while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
    [ "$#" -gt 0 ] && shift
    filters+=("$@")

    arm64_prepare
    banner "leg $leg: linux-arm64 under qemu ${envs[*]} ${filters[*]:-(all tests)}"
    case "$ARM64_STATE" in
        skip)
            local count
            count=$(arm64_test_count "${filters[@]}")
            local line="leg $leg: 0 passed, 0 failed, $count skipped  <- SKIPPED: $ARM64_REASON"
            say "$line"; SUMMARY+=("$line"); SUM_SKIPPED=$((SUM_SKIPPED + count))
            return ;;
        broken)
            local line="leg $leg: 0 passed, 1 failed  <- BROKEN: $ARM64_REASON"
            say "$line"; SUMMARY+=("$line"); BROKEN+=("$leg"); SUM_FAILED=$((SUM_FAILED + 1))
            return ;;
    esac

    say "asserting: architecture Arm64, kernel path $expect"
    mkdir -p "$dir"
    env "${envs[@]}" timeout "$ARM64_TIMEOUT" "$QEMU" -L "$ARM64_SYSROOT" "$ARM64_EXE" \
        -noColor -trx "$dir/$leg.trx" "${filters[@]}"
    local rc=$?
    [ "$rc" -eq 124 ] && say "leg $leg: killed after $ARM64_TIMEOUT"
    count_leg "$leg" "$dir" "$rc" 1 "the arm64 test program" "$expect, architecture Arm64"
}

EXTRA_ARGS=("$@")

for leg in $LEGS; do
    case "$leg" in
        default)   run_leg default   "$SOLUTION"     "$default_expect" "$test_projects" ;;
        avx2)      run_leg avx2      "$KERNEL_TESTS" Vector256 1 DOTNET_EnableAVX512=0 ;;
        vector128) run_leg vector128 "$KERNEL_TESTS" Vector128 1 DOTNET_EnableAVX2=0 ;;
        scalar)    run_leg scalar    "$KERNEL_TESTS" Scalar    1 DOTNET_EnableHWIntrinsic=0 ;;
        arm64)     run_arm64_leg arm64 Vector128 ;;
        arm64-scalar) run_arm64_leg arm64-scalar Scalar DOTNET_EnableHWIntrinsic=0 ;;
        mpi)       run_mpi_leg ;;
        *)
            SUMMARY+=("leg $leg: 0 passed, 1 failed  <- BROKEN: unknown leg (known: default avx2 vector128 scalar arm64 arm64-scalar mpi)")
            BROKEN+=("$leg"); SUM_FAILED=$((SUM_FAILED + 1)) ;;
    esac
done

# ---------------------------------------------------------------------------------------------
banner "summary (TRX files under ${RESULTS#"$ROOT"/})"
for line in "${SUMMARY[@]}"; do say "$line"; done
if [ "${#BROKEN[@]}" -gt 0 ]; then
    say "FAILED legs: ${BROKEN[*]}"
fi
final="$SUM_PASSED passed, $SUM_FAILED failed"
[ "$SUM_SKIPPED" -gt 0 ] && final+=", $SUM_SKIPPED skipped"
say "$final"
[ "${#BROKEN[@]}" -eq 0 ] && [ "$SUM_FAILED" -eq 0 ]
