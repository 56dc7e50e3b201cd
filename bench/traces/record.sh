#!/usr/bin/env bash
# bench/traces/record.sh: records the allocation traces of real programs with
# build/bench/recorder.so.
#
#   bench/traces/record.sh OUT small   the traces shipped in bench/traces/ (make traces):
#                                      python, cc1, git, sort; each well under 2 MB
#   bench/traces/record.sh OUT big     the larger ones bench/run.py records at bench
#                                      time: python-big, cc1plus
#
# Each program runs with HM_TRACE=DIR/t.%e.%p.hmt, so every process it starts
# writes a trace of its own; the trace kept is the largest one of the program
# named (cc1 rather than the gcc driver, git's own process rather than its
# helpers). Inputs are made here, from fixed seeds.
set -euo pipefail
out=${1:?usage: record.sh OUT small|big}
size=${2:-small}
root=$(cd "$(dirname "$0")/../.." && pwd)
recorder=$root/build/bench/recorder.so
[ -f "$recorder" ] || { echo "record.sh: build $recorder first (make bench-tools)"; exit 1; }
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hm-traces.XXXXXX")
trap 'rm -rf "$work"' EXIT

# record NAME PROGRAM COMMAND...: runs COMMAND under the recorder and keeps
# the largest trace written by a process named PROGRAM as OUT/NAME.hmt.
record() {
    local name=$1 program=$2
    shift 2
    rm -rf "$work/t" && mkdir "$work/t"
    HM_TRACE="$work/t/t.%e.%p.hmt" LD_PRELOAD=$recorder "$@" >/dev/null
    local best
    best=$(ls -S "$work"/t/t."$program"*.hmt 2>/dev/null | head -1)
    [ -n "$best" ] || { echo "record.sh: $program left no trace"; exit 1; }
    cp "$best" "$out/$name.hmt"
    printf '%-12s %9s bytes  (%s)\n' "$name.hmt" "$(stat -c %s "$out/$name.hmt")" "$*"
}

cd "$work"
export LC_ALL=C
if [ "$size" = small ]; then
    PYTHONMALLOC=malloc record python python3 "$python" "$root/bench/traces/src/workload.py" 1
    record cc1 cc1 gcc -O2 -c "$root/bench/traces/src/tree.c" -o "$work/tree.o"

    # A small repository made here: 80 commits to 6 files, fixed dates and names.
    mkdir repo && (
        cd repo
        export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
        export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
        export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z
        git init -q -b main .
        for i in $(seq 1 80); do
            awk -v i="$i" 'BEGIN { srand(i); for (k = 0; k < 60 + i; k++) printf "line %d of %d: %d\n", k, i, int(rand() * 1000) }' \
                > "file$((i % 6)).txt"
            git add -A && git commit -qm "commit $i"
        done
    )
    record git git git -C repo log -p --stat

    awk 'BEGIN { srand(3); for (i = 0; i < 50000; i++) printf "%d line %d\n", int(rand() * 1e6), i }' > lines.txt
    record sort sort sort -S 64K lines.txt   # a small buffer: an external merge sort
else
    PYTHONMALLOC=malloc record python-big python3 "$python" "$root/bench/traces/src/workload.py" 8
    record cc1plus cc1plus g++ -std=c++20 -O1 -I"$root/bench" -c "$root/bench/gen.cpp" -o "$work/gen.o"
fi
