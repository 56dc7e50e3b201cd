#!/usr/bin/env bash
# bench/selftest/run.sh: the replayer must catch an allocator's bugs, and the
# recorder must record real programs (make bench-selftest).
#
# Each bug of bench/selftest/broken.cpp is replayed on a trace that exercises
# it; the replay must stop with exit status 3 and say CORRUPTED (or "not
# zero" for calloc). With no bug it must pass. Then python3 and git run under
# the recorder, and their traces must replay, every block checked, on stage
# 01, on stage 07 and on glibc. Prints TAP and a last line "N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
replay=$root/build/bench/replay
lib=$root/build/bench/broken.so
traces=$(mktemp -d "${TMPDIR:-/tmp}/hm-selftest.XXXXXX")
trap 'rm -rf "$traces"' EXIT
"$root/build/bench/gen" --scale 0.05 "$traces" >/dev/null || exit 1

pass=0 fail=0 n=0
check() {  # check BUG TRACE EXPECTED_STATUS WORD
    local bug=$1 trace=$2 want=$3 word=$4 out status
    n=$((n + 1))
    out=$(HM_BROKEN=$bug "$replay" --stage "$lib" "$traces/$trace.hmt" 2>&1)
    status=$?
    if [ "$status" = "$want" ] && grep -q -- "$word" <<<"$out"; then
        pass=$((pass + 1)); echo "ok $n - $bug on $trace: exit $status"
    else
        fail=$((fail + 1)); echo "not ok $n - $bug on $trace: exit $status, wanted $want and '$word'"
        sed 's/^/# /' <<<"$out"
    fi
}
# record NAME COMMAND...: COMMAND runs under the recorder; the largest trace
# of a process named NAME* must replay cleanly on stages 01 and 07 and glibc.
record() {
    local name=$1 dir trace how out status
    shift
    dir=$traces/rec-$name
    mkdir -p "$dir"
    HM_TRACE="$dir/%e.%p.hmt" LD_PRELOAD="$root/build/bench/recorder.so" "$@" >/dev/null 2>&1
    trace=$(ls -S "$dir/$name"*.hmt 2>/dev/null | head -1)
    for how in "--stage 1" "--stage 7" "--system glibc"; do
        n=$((n + 1))
        if [ -z "$trace" ]; then
            fail=$((fail + 1)); echo "not ok $n - recorded $name, replayed with $how: no trace was written"
            continue
        fi
        # shellcheck disable=SC2086  # $how is two words on purpose
        out=$("$replay" $how "$trace" 2>&1)
        status=$?
        if [ "$status" = 0 ] && grep -q "every block checked" <<<"$out"; then
            pass=$((pass + 1)); echo "ok $n - recorded $name, replayed with $how"
        else
            fail=$((fail + 1)); echo "not ok $n - recorded $name, replayed with $how: exit $status"
            sed 's/^/# /' <<<"$out"
        fi
    done
}

echo "1..12"
check none random-live 0 "every block checked"
check none realloc-growth 0 "every block checked"
check overlap random-live 3 "CORRUPTED"
check calloc random-live 3 "not zero"
check realloc realloc-growth 3 "old contents were not kept"
check scribble random-live 3 "CORRUPTED"
record python3 python3 -c 'import json; print(len(json.dumps({str(i): [i] * 5 for i in range(2000)})))'
record git git -C "$root" log --stat -20
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
