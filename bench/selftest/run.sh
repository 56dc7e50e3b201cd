#!/usr/bin/env bash
# bench/selftest/run.sh: the replayer must catch an allocator's bugs
# (make bench-selftest). Each bug of bench/selftest/broken.cpp is replayed
# on a trace that exercises it; the replay must stop with exit status 3 and
# say CORRUPTED (or "not zero" for calloc). With no bug it must pass.
# Prints TAP and a last line "N passed, N failed".
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
echo "1..6"
check none random-live 0 "every block checked"
check none realloc-growth 0 "every block checked"
check overlap random-live 3 "CORRUPTED"
check calloc random-live 3 "not zero"
check realloc realloc-growth 3 "old contents were not kept"
check scribble random-live 3 "CORRUPTED"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
