#!/usr/bin/env python3
"""bench/run.py: the whole benchmark (`make bench`); see bench/README.md.

Runs every workload on every stage (through its prefixed API, in the sbrk
double) and on glibc, jemalloc, mimalloc and tcmalloc (through the standard
names, preloaded), in interleaved repetitions, and writes:

  bench/results/bench.md           the tables (speed against glibc, memory
                                   efficiency, calls to the OS, instructions
                                   per call) and every run's figures
  bench/results/speed.svg          the same as pictures
  bench/results/memory.svg
  bench/results/os-calls.svg
  bench/results/instructions.svg
  bench/results/growth.svg         the cost per call as the heap grows: 1,000,
                                   10,000 and 100,000 live blocks
  bench/results/memory-resident.svg  memory efficiency measured the same way
                                   (resident memory) for the stages that can
                                   be preloaded and the peers
  bench/results/heapmap-NN.svg     every stage's heap after the demo workload

Numbers are reported, never asserted: a slow allocator is a result, a run
that corrupts a block or crashes is reported as such and the bench goes on.
Only the Python standard library is used; the SVG is written by hand.
"""

import argparse
import concurrent.futures
import datetime
import glob
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "build", "bench")
REPLAY = os.path.join(TOOLS, "replay")
REPLAY_SYSTEM = os.path.join(TOOLS, "replay-system")
THREADS = os.path.join(TOOLS, "threads")

# The peers, and the Debian package of each.
PEERS = [("jemalloc", "libjemalloc2"), ("mimalloc", "libmimalloc2.0"), ("tcmalloc", "libtcmalloc-minimal4")]

BIG_TRACES = ("python-big", "cc1plus")

SIGNALS = {6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}


def log(msg=""):
    print(msg, flush=True)


# ---- what is measured on what ------------------------------------------------------

class Alloc:
    def __init__(self, name, kind, label, lib=None, standard_names=False):
        self.name = name                      # "01" ... or "glibc", "jemalloc", ...
        self.kind = kind                      # "stage" or "system"
        self.label = label                    # column heading
        self.lib = lib                        # the library file (None for glibc)
        self.standard_names = standard_names  # usable as the process's malloc


class Workload:
    def __init__(self, name, kind, what, path=None, live=0):
        self.name = name
        self.kind = kind  # "synthetic", "trace", "threads", "growth"
        self.what = what
        self.path = path
        self.live = live  # growth: the live blocks built before the measured calls


def stage_dirs():
    return sorted(d for d in glob.glob(os.path.join(ROOT, "stages", "[0-9][0-9]-*")) if os.path.isdir(d))


def exports_malloc(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True).stdout
    return re.search(r"\sT malloc$", out, re.M) is not None


def which_peer(name):
    r = subprocess.run([REPLAY, "--which", name], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_peers(no_install):
    """Finds the peers' libraries; installs the missing ones with apt-get when root."""
    found = {n: which_peer(n) for n, _ in PEERS}
    missing = [(n, p) for n, p in PEERS if not found[n]]
    if missing and not no_install and os.geteuid() == 0 and shutil.which("apt-get"):
        pkgs = [p for _, p in missing]
        log("installing the missing peers with apt-get: " + " ".join(pkgs))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-qq", *pkgs]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            log("  apt-get failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
        found = {n: which_peer(n) for n, _ in PEERS}
        missing = [(n, p) for n, p in PEERS if not found[n]]
    for n, p in missing:
        log(f"MISSING: {n} (Debian package {p}) is not installed; the bench goes on without it")
    return found, [n for n, _ in missing]


def package_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "?"


# ---- running one thing ----------------------------------------------------------------

def parse_kv(text):
    kv = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            kv[k.strip()] = v.strip()
    return kv


def run(cmd, timeout, env=None):
    """Runs a tool; returns its key=value figures with 'status' always set."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "why": f"killed after {timeout:.0f} s"}
    kv = parse_kv(r.stdout)
    err = r.stderr.strip()
    first = " ".join(err.splitlines()[:2]) if err else ""
    if r.returncode == 0:
        kv.setdefault("status", "error")
    elif r.returncode < 0:
        kv["status"] = "crashed"
        kv["why"] = SIGNALS.get(-r.returncode, f"signal {-r.returncode}") + (f": {first}" if first else "")
    elif r.returncode == 3:
        kv["status"] = "corrupted"
        kv["why"] = first
    elif r.returncode == 4:
        kv["status"] = "out_of_memory"
        kv["why"] = first
    else:
        kv["status"] = "error"
        kv["why"] = f"exit {r.returncode}: {first}"
    return kv


def command(w, a, cap_seconds, messages, extra=(), min_seconds=0):
    if w.kind == "growth":
        extra = (*extra, "--measure-from", str(w.live))
    if w.kind == "threads":
        target = a.lib if a.kind == "stage" else a.name
        return [THREADS, "--system", target, "--kv", "--messages", str(messages),
                "--cap-seconds", str(cap_seconds), *extra]
    who = ["--stage", a.name] if a.kind == "stage" else ["--system", a.name]
    return [REPLAY, *who, "--kv", "--cap-seconds", str(cap_seconds), "--min-seconds", str(min_seconds),
            *extra, w.path]


def applies(w, a):
    return w.kind != "threads" or a.standard_names


def num(kv, key, default=None):
    try:
        return float(kv[key])
    except (KeyError, ValueError):
        return default


# ---- instruction counts --------------------------------------------------------------

def callgrind(w, a, ops, peers, workdir, measure_from=0):
    """The allocator's own instructions (callgrind, inside hm_call_*) over the first `ops` calls, or
    with measure_from, over the `ops` calls after the first measure_from (the counters are zeroed
    when the replay reaches that call: --zero-before=hm_steady_begin)."""
    out = os.path.join(workdir, f"cg.{w.name}.{a.name}")
    env = dict(os.environ)
    if a.kind == "stage":
        target = [REPLAY, "--stage", a.name]
    else:
        # replay-system directly, with the preload already in place, so no exec
        # happens under valgrind.
        target = [REPLAY_SYSTEM, "--system", a.name]
        env["HM_BENCH_REEXEC"] = "1"
        env.pop("LD_PRELOAD", None)
        if a.name != "glibc":
            env["LD_PRELOAD"] = peers[a.name]
    zero = ["--zero-before=hm_steady_begin"] if measure_from else []
    steady = ["--measure-from", str(measure_from)] if measure_from else []
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--toggle-collect=hm_call_*", *zero,
           *target, "--kv", *steady, "--cap-ops", str(measure_from + ops), w.path]
    kv = run(cmd, timeout=600, env=env)
    total = None
    try:
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    total = int(line.split()[1])
        os.unlink(out)
    except (OSError, ValueError, IndexError):
        pass
    done = num(kv, "ops_done")
    if measure_from and done is not None:
        done -= measure_from
    if kv["status"] not in ("ok", "over_cap") or total is None or not done or done <= 0:
        return None
    return total / done


def perf_works():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", "instructions:u", "true"], capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr and "<not counted>" not in r.stderr


# ---- numbers as text ------------------------------------------------------------------

def si(v):
    if v is None:
        return "n/a"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def size_text(b):
    if b is None:
        return "n/a"
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= div:
            return f"{b / div:.3g} {unit}"
    return f"{int(b)} B"


def ratio_text(r):
    if r >= 10:
        return f"{r:.0f}×"
    if r >= 1:
        return f"{r:.2f}×"
    if r >= 0.01:
        return f"{r:.2f}×"
    return f"{r:.1e}×".replace("e-0", "e-")


# ---- SVG -------------------------------------------------------------------------------

def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mix(c1, c2, t):
    t = max(0.0, min(1.0, t))
    a = [int(c1[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(c2[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def wrap(text, pixels):
    """`text` in lines that fit `pixels` wide (about 6.5 pixels a character at the subtitles' size)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > pixels / 6.5:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return lines


def heatmap(path, title, subtitle, rows, cols, cell, legend):
    """rows, cols: labels; cell(r, c) -> (text, colour) or None; legend: [(colour, text)]."""
    cw, ch, left = 78, 26, 150
    width = left + cw * len(cols) + 20
    lines = wrap(subtitle, width - left - 10)
    top = 72 + 16 * len(lines)
    height = top + ch * len(rows) + 40 + 20 * ((len(legend) + 3) // 4)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{left}" y="26" font-size="17" font-weight="bold">{esc(title)}</text>']
    for k, text in enumerate(lines):
        out.append(f'<text x="{left}" y="{46 + 16 * k}" font-size="12" fill="#333">{esc(text)}</text>')
    for j, c in enumerate(cols):
        x = left + j * cw + cw / 2
        out.append(f'<text x="{x:.1f}" y="{top - 10}" font-size="12" font-weight="bold" '
                   f'text-anchor="middle">{esc(c)}</text>')
    for i, r in enumerate(rows):
        y = top + i * ch
        out.append(f'<text x="{left - 8}" y="{y + ch / 2 + 4:.1f}" font-size="12" text-anchor="end">{esc(r)}</text>')
        for j in range(len(cols)):
            x = left + j * cw
            v = cell(i, j)
            if v is None:
                out.append(f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="#fafafa" stroke="#eee"/>')
                continue
            text, colour = v
            out.append(f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{colour}"/>')
            dark = sum(int(colour[k:k + 2], 16) for k in (1, 3, 5)) < 330
            out.append(f'<text x="{x + (cw - 2) / 2:.1f}" y="{y + ch / 2 + 3:.1f}" font-size="11" '
                       f'text-anchor="middle" fill="{"#fff" if dark else "#111"}">{esc(text)}</text>')
    ly = top + ch * len(rows) + 24
    for k, (colour, text) in enumerate(legend):
        x = left + (k % 4) * 200
        y = ly + (k // 4) * 20
        out.append(f'<rect x="{x}" y="{y - 11}" width="14" height="14" fill="{colour}" stroke="#999"/>')
        out.append(f'<text x="{x + 20}" y="{y}" font-size="11">{esc(text)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


SLOW, EVEN, FAST = "#c0392b", "#f7f7f7", "#2166ac"
GREY = "#bbbbbb"
BAD = "#6d2177"


def speed_colour(r):
    t = math.log10(r)
    return mix(EVEN, FAST, t / 1.0) if t >= 0 else mix(EVEN, SLOW, -t / 3.0)


def seq_colour(t):
    return mix("#f7fcf5", "#00441b", t)


# ---- the bench --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="hmalloc's benchmark (make bench); see bench/README.md")
    ap.add_argument("--quick", action="store_true", help="small workloads, one repetition, no instruction counts; "
                    "results go to build/bench/results-quick")
    ap.add_argument("--reps", type=int, help="timed repetitions (default 3; --quick 1)")
    ap.add_argument("--cap-seconds", type=float, help="a run stops after this long (default 2; --quick 0.5)")
    ap.add_argument("--instr-ops", type=int, default=5000, help="calls counted by callgrind per run (default 5000)")
    ap.add_argument("--growth-ops", type=int, default=2000, help="calls counted by callgrind per size of the growth "
                    "figure, after the live set is built (default 2000)")
    ap.add_argument("--no-instructions", action="store_true", help="skip the instruction counts")
    ap.add_argument("--no-install", action="store_true", help="never apt-get the peers")
    ap.add_argument("--only", help="comma-separated workloads to run")
    ap.add_argument("--out", help="results directory (default bench/results)")
    args = ap.parse_args()

    started = time.time()
    reps = args.reps or (1 if args.quick else 3)
    cap = args.cap_seconds or (0.5 if args.quick else 2.0)
    scale = 0.05 if args.quick else 1.0
    messages = 20000 if args.quick else 1000000
    min_seconds = 0.05 if args.quick else 0.25
    outdir = args.out or (os.path.join(TOOLS, "results-quick") if args.quick else os.path.join(ROOT, "bench", "results"))
    os.makedirs(outdir, exist_ok=True)
    tracedir = os.path.join(TOOLS, "traces")

    log("hmalloc bench: " + ("quick run" if args.quick else f"{reps} interleaved repetitions, cap {cap:g} s a run"))

    # The allocators.
    peers, missing = ensure_peers(args.no_install)
    allocs = []
    for d in stage_dirs():
        n = os.path.basename(d)[:2]
        lib = os.path.join(ROOT, "build", n, "libhmalloc.so")
        if not os.path.exists(lib):
            log(f"MISSING: {lib} (make builds it); stage {n} is left out")
            continue
        allocs.append(Alloc(n, "stage", n, lib, exports_malloc(lib)))
    allocs.append(Alloc("glibc", "system", "glibc", None, True))
    for n, _ in PEERS:
        if peers.get(n):
            allocs.append(Alloc(n, "system", n, peers[n], True))
    glibc = next(a for a in allocs if a.name == "glibc")

    # The workloads: synthetic ones (bench/gen), the shipped traces, larger
    # traces recorded now, and the two-thread one.
    gen_dir = os.path.join(tracedir, "gen-quick" if args.quick else "gen")
    os.makedirs(gen_dir, exist_ok=True)
    gen = subprocess.run([os.path.join(TOOLS, "gen"), "--scale", str(scale), gen_dir], capture_output=True, text=True)
    if gen.returncode != 0:
        sys.exit("bench: gen failed: " + gen.stderr)
    listing = subprocess.run([os.path.join(TOOLS, "gen"), "--list"], capture_output=True, text=True).stdout
    workloads = []
    for line in listing.splitlines():
        name, what = line.split(None, 1)
        workloads.append(Workload(name, "synthetic", what, os.path.join(gen_dir, name + ".hmt")))
    shipped = {"python": "python3 (PYTHONMALLOC=malloc): two threads, regex and JSON",
               "cc1": "gcc -O2 -c: the compiler proper (cc1)",
               "git": "git log -p --stat on an 80-commit repository",
               "sort": "sort -S 64K: an external merge sort"}
    for name, what in shipped.items():
        p = os.path.join(ROOT, "bench", "traces", name + ".hmt")
        if os.path.exists(p):
            workloads.append(Workload(name, "trace", what + " (shipped trace)", p))
    if not args.quick:
        big_dir = os.path.join(tracedir, "big")
        big = {"python-big": "python3 as above, 8 times the work (recorded now)",
               "cc1plus": "g++ -O1 -c bench/gen.cpp: the C++ compiler proper (recorded now)"}
        if not all(os.path.exists(os.path.join(big_dir, n + ".hmt")) for n in big):
            log("recording the larger traces (bench/traces/record.sh big)")
            r = subprocess.run(["bash", os.path.join(ROOT, "bench", "traces", "record.sh"), big_dir, "big"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                log("  could not record them: " + r.stderr.strip())
        for name, what in big.items():
            p = os.path.join(big_dir, name + ".hmt")
            if os.path.exists(p):
                workloads.append(Workload(name, "trace", what, p))
    workloads.append(Workload("threads", "threads",
                              f"2 threads, producer/consumer, {messages} messages freed by the other thread "
                              "(standard names only)"))
    if args.only:
        keep = set(args.only.split(","))
        workloads = [w for w in workloads if w.name in keep]
    trace_ops = {}
    for w in workloads:
        if w.path:
            info = subprocess.run([REPLAY, "--info", w.path], capture_output=True, text=True).stdout
            m = re.search(r"operations\s+(\d+)", info)
            trace_ops[w.name] = int(m.group(1)) if m else 0

    # The cost as the heap grows: N live blocks built, then `steady` calls
    # that keep N live, measured from call N on (bench/gen.cpp, live_set).
    growth = []
    if not args.only or "growth" in args.only.split(","):
        sizes = (1000,) if args.quick else (1000, 10000, 100000)
        steady = 20000 if args.quick else 200000
        growth_dir = os.path.join(tracedir, "growth-quick" if args.quick else "growth")
        os.makedirs(growth_dir, exist_ok=True)
        for n in sizes:
            p = os.path.join(growth_dir, f"live-{n}.hmt")
            r = subprocess.run([os.path.join(TOOLS, "gen"), "--live", str(n), "--steady", str(steady), p],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("bench: gen --live failed: " + r.stderr)
            growth.append(Workload(f"live-{n // 1000}k", "growth",
                                   f"{n:,} small blocks live, then {steady:,} calls (free a random one, "
                                   "allocate one) measured", p, n))
            trace_ops[growth[-1].name] = n + steady

    log("allocators: " + ", ".join(a.label for a in allocs) + (f" (missing: {', '.join(missing)})" if missing else ""))
    log("workloads:  " + ", ".join(w.name for w in workloads + growth))

    # ---- timed runs: every repetition runs every workload on every allocator,
    # in a different order each time; a run that ends over cap or fails is not
    # repeated.
    results = {}  # (workload, alloc) -> [kv, ...]
    stopped = set()
    for rep in range(reps):
        log(f"\nrepetition {rep + 1} of {reps}")
        for w in workloads + growth:
            order = [a for a in allocs if applies(w, a)]
            k = rep % len(order)
            order = order[k:] + order[:k]
            parts = []
            for a in order:
                key = (w.name, a.name)
                if key in stopped:
                    continue
                kv = run(command(w, a, cap, messages, min_seconds=min_seconds), timeout=cap * 5 + 60)
                results.setdefault(key, []).append(kv)
                if kv["status"] != "ok":
                    stopped.add(key)
                rate = num(kv, "steady_per_sec" if w.kind == "growth" else "ops_per_sec")
                parts.append(f"{a.label} {si(rate)}/s" if kv["status"] == "ok"
                             else f"{a.label} {kv['status'].replace('_', ' ')}")
            log(f"  {w.name:15s} " + "  ".join(parts))

    # ---- calls to the OS of the system allocators (a stage's sbrk calls come
    # with every timed run): counted in runs of their own, two at a time.
    log("\ncounting the system allocators' calls to the OS (mmap, munmap, mremap, madvise, mprotect, brk)")
    os_counts = {}
    jobs = [(w, a) for w in workloads for a in allocs if applies(w, a) and (a.kind == "system" or w.kind == "threads")]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {pool.submit(run, command(w, a, cap, messages, ["--count-os-calls"]), cap * 20 + 60): (w, a)
                   for w, a in jobs}
        for f in concurrent.futures.as_completed(futures):
            w, a = futures[f]
            os_counts[(w.name, a.name)] = f.result()

    # ---- memory efficiency measured the same way for everyone: the stages
    # that define malloc, preloaded as the process's malloc, replayed through
    # the standard names like the peers, so their footprint is resident
    # memory too (VmHWM) and not the sbrk double's count.
    resident = {}  # (workload, stage) -> kv of a run through the standard names
    preloadable = [a for a in allocs if a.kind == "stage" and a.standard_names]
    if args.quick:
        preloadable = preloadable[-1:]  # a smoke test of the measure: the last stage only
    if preloadable:
        log("\nmemory of the preloadable stages as resident memory (" + ", ".join(a.label for a in preloadable) +
            " as the process's malloc), one run each")
        for w in workloads:
            if w.kind == "threads":
                continue
            parts = []
            for a in preloadable:
                as_system = Alloc(a.lib, "system", a.label, a.lib, True)
                kv = run(command(w, as_system, cap, messages), timeout=cap * 5 + 60)
                resident[(w.name, a.name)] = kv
                e = efficiency(kv) if kv["status"] in ("ok", "over_cap") else None
                parts.append(f"{a.label} " + (f"{100 * e:.0f}%" if e is not None else kv["status"]))
            log(f"  {w.name:15s} " + "  ".join(parts))

    # ---- instructions per call.
    instr = {}
    instr_how = "not measured (--no-instructions)"
    if not args.no_instructions and not args.quick:
        timed_instr = [kv for runs in results.values() for kv in runs if "instructions" in kv]
        if timed_instr:
            instr_how = "the CPU's counter (perf_event_open), whole replay loop including the checks"
            for key, runs in results.items():
                vals = [num(kv, "instructions") / num(kv, "ops_done") for kv in runs
                        if "instructions" in kv and num(kv, "ops_done")]
                if vals:
                    instr[key] = statistics.median(vals)
        elif shutil.which("valgrind"):
            why = "perf reports instructions as not supported here" if shutil.which("perf") else "no perf"
            instr_how = (f"callgrind ({why}): instructions inside the allocator's calls only, "
                         f"over the first {args.instr_ops} calls of each trace")
            log(f"\ncounting instructions with callgrind, first {args.instr_ops} calls of each trace, two at a time")
            workdir = tempfile.mkdtemp(prefix="hm-cg.")
            # The larger traces start as the small ones do (the same programs),
            # so their first calls would only repeat them.
            jobs = [(w, a) for w in workloads if w.kind != "threads" and w.name not in BIG_TRACES for a in allocs]
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                futures = {pool.submit(callgrind, w, a, args.instr_ops, peers, workdir): (w, a) for w, a in jobs}
                for f in concurrent.futures.as_completed(futures):
                    w, a = futures[f]
                    instr[(w.name, a.name)] = f.result()
            # The growth figure: the calls after the live set is built, only
            # where the timed run got that far within the cap (building a large
            # live set on a stage that walks its heap takes minutes under valgrind).
            jobs = [(w, a) for w in growth for a in allocs
                    if num((results.get((w.name, a.name)) or [{}])[0], "steady_ops", 0) > 0]
            log(f"counting instructions with callgrind for the growth figure: {args.growth_ops} calls after the "
                f"live set is built, {len(jobs)} runs, two at a time")
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                futures = {pool.submit(callgrind, w, a, args.growth_ops, peers, workdir, w.live): (w, a)
                           for w, a in jobs}
                for f in concurrent.futures.as_completed(futures):
                    w, a = futures[f]
                    instr[(w.name, a.name)] = f.result()
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            instr_how = "not measured: no CPU counter and no valgrind"

    # ---- heap pictures.
    heapmap = os.path.join(TOOLS, "heapmap")
    if os.path.exists(heapmap):
        for d in stage_dirs():
            n = os.path.basename(d)[:2]
            lib = os.path.join(ROOT, "build", n, "libhmalloc.so")
            if os.path.exists(lib):
                subprocess.run([heapmap, lib, os.path.join(outdir, f"heapmap-{n}.svg"),
                                "Stage " + os.path.basename(d)], capture_output=True)

    elapsed = time.time() - started
    report(outdir, args, reps, cap, allocs, workloads, results, os_counts, instr, instr_how, glibc, missing,
           trace_ops, elapsed, messages, growth, resident)


# ---- the report -------------------------------------------------------------------------

def summary_of(results, key):
    """The run figures for one (workload, alloc): median rate, and the rest from the first run."""
    runs = results.get(key)
    if not runs:
        return None
    first = runs[0]
    s = dict(first)
    ok = [num(kv, "ops_per_sec") for kv in runs if kv["status"] == "ok"]
    s["rate"] = statistics.median(ok) if ok else num(first, "ops_per_sec")
    s["reps"] = len(runs)
    return s


def speed_ratio(results, w, a, glibc):
    """Median over the repetitions of this allocator's rate over glibc's in the same repetition."""
    mine = results.get((w.name, a.name), [])
    base = results.get((w.name, glibc.name), [])
    ratios = [num(m, "ops_per_sec") / num(b, "ops_per_sec") for m, b in zip(mine, base)
              if m["status"] == "ok" and b["status"] == "ok" and num(b, "ops_per_sec")]
    return statistics.median(ratios) if ratios else None


def status_text(s, total_ops):
    st = s["status"]
    if st == "over_cap":
        done = num(s, "ops_done", 0)
        total = num(s, "ops", total_ops) or total_ops or 1
        return f"over cap ({math.floor(100 * done / total)}%)"
    if st == "ok":
        return "ok"
    return f"{st.replace('_', ' ').upper()}" + (f" ({s['why']})" if s.get("why") else "")


def footprint_of(s):
    return num(s, "footprint_peak")


def efficiency(s):
    live, foot = num(s, "peak_live"), footprint_of(s)
    if live is None or not foot:
        return None
    return live / foot


def os_calls_of(s, counted):
    """Calls to the OS, and how they were counted."""
    if s is not None and "sbrk_calls" in s:
        return num(s, "sbrk_grows", 0) + num(s, "sbrk_shrinks", 0), "sbrk"
    if counted is not None and counted.get("os_counted") == "1":
        return num(counted, "os_calls"), "syscalls"
    return None, None


def growth_rate(kv):
    """Calls per second after the live set was built (None if the run never got there)."""
    if kv is None or num(kv, "steady_ops", 0) <= 0:
        return None
    return num(kv, "steady_per_sec")


def growth_ratio(results, w, a, glibc):
    """As speed_ratio, for the growth figure: the rate of the measured calls, in the same repetition."""
    mine = results.get((w.name, a.name), [])
    base = results.get((w.name, glibc.name), [])
    ratios = [growth_rate(m) / growth_rate(b) for m, b in zip(mine, base)
              if m["status"] == "ok" and b["status"] == "ok" and growth_rate(m) and growth_rate(b)]
    return statistics.median(ratios) if ratios else None


def growth_status(w, kv):
    """How far an over-cap run got: building the live set, or into the measured calls."""
    done = int(num(kv, "ops_done", 0))
    if num(kv, "steady_ops", 0) <= 0:
        return f"over cap (built {min(done, w.live):,} of {w.live:,})"
    total = num(kv, "ops", 0) - w.live
    return f"over cap ({math.floor(100 * (done - w.live) / max(total, 1))}% of the calls)"


def line_labels(labels):
    """SVG text for the labels at the ends of lines: [(x, y, text, colour)]. Lines that end at
    the same point share one label ("05, 06, 07"); labels at one x are kept 10 px apart."""
    groups = []
    for x, y, text, colour in labels:
        for g in groups:
            if abs(g[0] - x) < 1 and abs(g[1] - y) < 2:
                g[2].append(text)
                break
        else:
            groups.append([x, y, [text], colour])
    out, last = [], {}
    for x, y, texts, colour in sorted(groups, key=lambda g: (round(g[0]), g[1])):
        key = round(x)
        if key in last and y < last[key] + 10:
            y = last[key] + 10
        last[key] = y
        out.append(f'<text x="{x + 5:.1f}" y="{y:.1f}" font-size="10" fill="{colour}">{esc(", ".join(texts))}</text>')
    return out


def growth_svg(path, title, subtitle, growth, allocs, panels, notes):
    """Line charts side by side, one line per allocator, x: live blocks (log), y: log.
    panels: [(heading, value_fn(w, a) -> number or None, unit text)]; notes: a -> text for the legend."""
    pw, ph, left, top, gap = 330, 250, 70, 84, 70
    width = left + len(panels) * (pw + gap) + 170
    height = top + ph + 60 + 16 * len(allocs)
    palette = {"glibc": "#000000", "jemalloc": "#1b9e77", "mimalloc": "#2166ac", "tcmalloc": "#7570b3"}
    stages = [a for a in allocs if a.kind == "stage"]

    def colour(a):
        if a.name in palette:
            return palette[a.name]
        k = stages.index(a) / max(len(stages) - 1, 1)
        return mix("#f4a582", "#67001f", k)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{left}" y="26" font-size="17" font-weight="bold">{esc(title)}</text>']
    lines = wrap(subtitle, width - left - 20)
    for k, text in enumerate(lines[:3]):
        out.append(f'<text x="{left}" y="{46 + 15 * k}" font-size="12" fill="#333">{esc(text)}</text>')
    xs = [math.log10(w.live) for w in growth]
    x_lo, x_hi = min(xs) - 0.15, max(xs) + 0.15
    for p, (heading, value_fn, unit) in enumerate(panels):
        x0 = left + p * (pw + gap)
        values = [value_fn(w, a) for w in growth for a in allocs]
        values = [v for v in values if v]
        if not values:
            continue
        y_lo = math.floor(math.log10(min(values)))
        y_hi = math.ceil(math.log10(max(values)))
        if y_hi == y_lo:
            y_hi += 1

        def X(v):
            return x0 + (math.log10(v) - x_lo) / (x_hi - x_lo) * pw

        def Y(v):
            return top + ph - (math.log10(v) - y_lo) / (y_hi - y_lo) * ph

        out.append(f'<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{x0}" y="{top - 8}" font-size="13" font-weight="bold">{esc(heading)}</text>')
        for e in range(y_lo, y_hi + 1):
            y = Y(10 ** e)
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{si(10 ** e)}</text>')
        for w in growth:
            x = X(w.live)
            out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">'
                       f'{w.live:,}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 32}" font-size="11" text-anchor="middle">'
                   f'live blocks ({esc(unit)})</text>')
        labels = []
        for a in allocs:
            pts = [(X(w.live), Y(v)) for w in growth for v in [value_fn(w, a)] if v]
            if not pts:
                continue
            c = colour(a)
            dash = ' stroke-dasharray="5,3"' if a.kind == "stage" else ""
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="' +
                       " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            for x, y in pts:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>')
            labels.append((pts[-1][0], pts[-1][1] + 4, a.label, c))
        out.extend(line_labels(labels))
    ly = top + ph + 56
    for k, a in enumerate(allocs):
        x, y = left, ly + k * 16
        out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{colour(a)}" stroke-width="2"'
                   + (' stroke-dasharray="5,3"' if a.kind == "stage" else "") + '/>')
        out.append(f'<text x="{x + 24}" y="{y}" font-size="11">{esc(a.label + notes(a))}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def real_program_ratios(stage):
    """Wall-time ratios to glibc from the real-program check (tests/real-programs, run by make test),
    if it has written its table for this stage: {program: ratio or None when over its cap}."""
    path = os.path.join(ROOT, "build", "tests", f"real-programs-{stage}.md")
    if not os.path.exists(path):
        return None, path
    ratios = {}
    with open(path) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or not cells[3].endswith("x") or cells[0] == "program":
                continue
            ratios[cells[0]] = None if cells[3].startswith("over") else float(cells[3][:-1])
    return ratios, path


def targets_section(results, allocs, workloads, instr, glibc, resident, trace_ops, cap):
    """The targets of Part II for the last stage (issue 7's for the end of its first half, issue 8's for
    the end of Part II), each with this run's figure and whether it is met: a report, never a test."""
    stages = [a for a in allocs if a.kind == "stage"]
    if not stages or glibc is None:
        return []
    last = stages[-1]
    by_name = {a.name: a for a in allocs}
    md = [f"## Targets for the last stage ({last.label})\n",
          "What the issues ask of the last stage, with this run's figure. Ratios are measured in this run; a "
          "target is never a timed test (the machine is shared and noisy).\n",
          "| target | figure | met |", "|---|---|---|"]

    def row(target, figure, met):
        md.append(f"| {target} | {figure} | {'yes' if met else ('**no**' if met is not None else 'n/a')} |")

    # No workload over cap.
    over = []
    for w in workloads:
        if not applies(w, last):
            continue
        s = summary_of(results, (w.name, last.name))
        if s is not None and s["status"] != "ok":
            over.append(f"{w.name} ({status_text(s, trace_ops.get(w.name))})")
    row(f"no bench workload over cap ({cap:g} s)", ", ".join(over) if over else "every workload finished", not over)

    # Instructions per call.
    def instr_ratio(wname):
        mine, base = instr.get((wname, last.name)), instr.get((wname, glibc.name))
        return (mine, base, mine / base) if mine and base else (mine, base, None)

    mine, base, r = instr_ratio("random-live")
    row("instructions per call on random-live within 2x glibc's",
        f"{mine:.0f} against {base:.0f}: {r:.2f}x" if r else "not measured", None if r is None else r <= 2)
    mine = instr.get(("churn", last.name))
    peers = ", ".join(f"{n} {instr[('churn', n)]:.0f}" for n in ("glibc", "mimalloc", "jemalloc", "tcmalloc")
                      if instr.get(("churn", n)))
    row("at most 25 instructions per call on churn (Part II's end)",
        f"{mine:.0f} ({peers})" if mine else "not measured", None if not mine else mine <= 25)

    # Memory: resident efficiency against glibc's on every recorded trace.
    if last.standard_names and resident:
        worse = []
        shown = []
        for w in workloads:
            if w.kind != "trace":
                continue
            s_m, s_g = resident.get((w.name, last.name)), summary_of(results, (w.name, glibc.name))
            e_m = efficiency(s_m) if s_m and s_m["status"] in ("ok", "over_cap") else None
            e_g = efficiency(s_g) if s_g and s_g["status"] in ("ok", "over_cap") else None
            if e_m is None or e_g is None:
                continue
            shown.append(f"{w.name} {100 * e_m:.0f}% ({100 * e_g:.0f}%)")
            if e_m < e_g:
                worse.append(w.name)
        row("resident memory efficiency at or above glibc's on every recorded trace (glibc in brackets)",
            "; ".join(shown) if shown else "not measured", None if not shown else not worse)

    # Speed against glibc.
    ratios = {}
    for w in workloads:
        if applies(w, last):
            r = speed_ratio(results, w, last, glibc)
            if r is not None:
                ratios[w.name] = r
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios.values()) / len(ratios))
        slowest = min(ratios, key=ratios.get)
        row("geometric mean of calls per second at least 1.5x glibc's (Part II's end)",
            f"{geo:.2f}x over {len(ratios)} workloads", geo >= 1.5)
        row("no workload slower than glibc (Part II's end)",
            f"slowest: {slowest} {ratios[slowest]:.2f}x", ratios[slowest] >= 1.0)
    tc = by_name.get("tcmalloc")
    if tc is not None and any(w.kind == "threads" for w in workloads):
        w = next(w for w in workloads if w.kind == "threads")
        r_m, r_t = speed_ratio(results, w, last, glibc), speed_ratio(results, w, tc, glibc)
        row("threads ahead of tcmalloc (Part II's end)",
            f"{r_m:.2f}x glibc against tcmalloc's {r_t:.2f}x" if r_m and r_t else "not measured",
            None if not (r_m and r_t) else r_m > r_t)

    # Real programs, from the real-program check.
    real, path = real_program_ratios(last.name)
    rel = os.path.relpath(path, ROOT)
    if real:
        over15 = [f"{n} {'over cap' if r is None else f'{r:.1f}x'}" for n, r in real.items() if r is None or r > 1.5]
        worst = max((r for r in real.values() if r is not None), default=None)
        row("every real program within 1.5x glibc's wall time",
            (f"{len(real)} programs, worst {worst:.1f}x" if worst else f"{len(real)} programs") +
            (": over 1.5x: " + ", ".join(over15) if over15 else "") + f" (from `{rel}`, written by `make test`)",
            not over15)
    else:
        row("every real program within 1.5x glibc's wall time", f"`{rel}` not found: run `make test` first", None)
    md.append("")
    return md


def report(outdir, args, reps, cap, allocs, workloads, results, os_counts, instr, instr_how, glibc, missing,
           trace_ops, elapsed, messages, growth, resident):
    cols = allocs
    md = []
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
            cpu = m.group(1).strip() if m else "?"
    except OSError:
        pass
    glibc_version = subprocess.run(["ldd", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    peers_text = ", ".join(f"{n} {package_version(p)}" for n, p in PEERS if n not in missing)
    md.append("# hmalloc bench results\n")
    md.append(f"Made by `make bench` (bench/run.py) on {datetime.date.today().isoformat()}, in {elapsed / 60:.1f} "
              f"minutes. Machine: {cpu}, {os.cpu_count()} cores, Linux {os.uname().release}; {glibc_version}; "
              f"{peers_text}." + (f" Missing (not measured): {', '.join(missing)}." if missing else ""))
    md.append("")
    md.append(f"Every run is a process of its own. {reps} repetitions, interleaved (each repetition runs every "
              f"workload on every allocator, in a rotating order); a run stops after {cap:g} s and is then "
              "reported **over cap** with how much of the workload it did, and is not repeated. The stages run "
              "through their prefixed API (`hmalloc`, ...) with their heap in the sbrk double; glibc, jemalloc, "
              "mimalloc and tcmalloc run through the standard names (preloaded). Every block is filled with a "
              "pattern of its own and checked when it is resized or freed and at the end. How to read all this: "
              "[bench/README.md](../README.md).\n")

    # Workloads.
    md.append("## Workloads\n")
    md.append("| workload | what | calls |")
    md.append("|---|---|---:|")
    for w in workloads + growth:
        ops = trace_ops.get(w.name)
        md.append(f"| {w.name} | {w.what} | {ops if ops is not None else 2.5 * messages:,.0f} |")
    md.append("")

    def table(title, intro, cell_fn, rows=None):
        md.append(f"## {title}\n")
        md.append(intro + "\n")
        md.append("| workload | " + " | ".join(a.label for a in cols) + " |")
        md.append("|---|" + "---:|" * len(cols))
        for w in rows if rows is not None else workloads:
            md.append(f"| {w.name} | " + " | ".join(cell_fn(w, a) for a in cols) + " |")
        md.append("")

    # Speed.
    def speed_cell(w, a):
        if not applies(w, a):
            return "–"
        s = summary_of(results, (w.name, a.name))
        if s is None:
            return "n/a"
        if a is glibc:
            return f"**{si(s['rate'])}/s**" if s["status"] == "ok" else status_text(s, trace_ops.get(w.name))
        if s["status"] != "ok":
            return status_text(s, trace_ops.get(w.name))
        r = speed_ratio(results, w, a, glibc)
        return ratio_text(r) if r is not None else "n/a"

    table("Speed against glibc",
          "Calls per second as a ratio to glibc's in the same repetition (median over the repetitions): above 1 "
          "is faster than glibc. The glibc column gives its own rate. The rate includes filling and checking "
          "every block, the same work for every allocator. `–`: the workload needs the standard names.",
          speed_cell)

    # Memory.
    def mem_cell(w, a):
        if not applies(w, a):
            return "–"
        s = summary_of(results, (w.name, a.name))
        if s is None or s["status"] not in ("ok", "over_cap"):
            return "n/a" if s is None else status_text(s, trace_ops.get(w.name))
        e = efficiency(s)
        if e is None:
            return "n/a"
        return f"{100 * e:.0f}%" + ("*" if s["status"] == "over_cap" else "")

    table("Memory efficiency",
          "Peak live bytes (what the program had asked for and not freed) over the peak heap footprint: for a "
          "stage, the highest its break went (the sbrk double); for the others, the most memory resident at once "
          "(VmHWM, measured from the start of the replay). 100% would be no overhead at all. `*`: over cap, "
          "figures for the part replayed. The threads workload has no live-byte count.",
          mem_cell)

    # Memory, resident for everyone.
    res_cols = [a for a in cols if (a.kind == "stage" and a.standard_names) or a.kind == "system"]

    def resident_kv(w, a):
        return resident.get((w.name, a.name)) if a.kind == "stage" else summary_of(results, (w.name, a.name))

    def res_cell(w, a):
        s = resident_kv(w, a)
        if s is None:
            return "n/a"
        if s["status"] not in ("ok", "over_cap"):
            return status_text(s, trace_ops.get(w.name))
        e = efficiency(s)
        return "n/a" if e is None else f"{100 * e:.0f}%" + ("*" if s["status"] == "over_cap" else "")

    res_rows = [w for w in workloads if w.kind != "threads"]
    if resident:
        md.append("## Memory efficiency, resident\n")
        md.append("The same ratio measured the same way for every column: the stages that define `malloc` are "
                  "preloaded as the process's malloc and replayed through the standard names, as the peers are, "
                  "and their footprint is the most memory resident at once (VmHWM), pages and metadata included. "
                  "The table above counts a stage's heap from the sbrk double (and, from stage 09, its mappings) "
                  "instead. One run each; `*`: over cap, the part replayed.\n")
        md.append("| workload | " + " | ".join(a.label for a in res_cols) + " |")
        md.append("|---|" + "---:|" * len(res_cols))
        for w in res_rows:
            md.append(f"| {w.name} | " + " | ".join(res_cell(w, a) for a in res_cols) + " |")
        md.append("")

    # OS calls.
    def os_cell(w, a):
        if not applies(w, a):
            return "–"
        s = summary_of(results, (w.name, a.name))
        n, how = os_calls_of(s if a.kind == "stage" and w.kind != "threads" else None,
                             os_counts.get((w.name, a.name)))
        if n is None:
            return "n/a"
        partial = (s is not None and s["status"] == "over_cap") or \
                  os_counts.get((w.name, a.name), {}).get("status") == "over_cap"
        return f"{n:,.0f}" + ("*" if partial else "")

    table("Calls to the OS",
          "For a stage: sbrk calls that moved the break (grow or shrink; `sbrk(0)` queries are not counted, "
          "they cost no system call in glibc's sbrk). For the others, and for stage 07 in the threads "
          "workload: system calls mmap, munmap, mremap, madvise, mprotect and brk, counted by a seccomp filter "
          "and a ptrace parent in a run of their own (bench/measure.hpp). `*`: over cap, the part replayed.",
          os_cell)

    # Instructions.
    if instr:
        def instr_cell(w, a):
            if w.kind == "threads":
                return "–"
            v = instr.get((w.name, a.name))
            return "n/a" if v is None else si(v)

        table("Instructions per call", f"Measured with {instr_how}. The larger traces are left out: their "
              "first calls are the small ones' (the same programs starting).", instr_cell,
              [w for w in workloads if any(instr.get((w.name, a.name)) for a in cols)])
    else:
        md.append("## Instructions per call\n")
        md.append(f"{instr_how.capitalize()}.\n")

    # The cost as the heap grows.
    if growth:
        md.append("## Cost as the heap grows\n")
        steady = trace_ops[growth[0].name] - growth[0].live
        md.append(f"Each workload makes N small blocks live (16 bytes to 1 KiB), then makes {steady:,} calls that "
                  "keep N live: free a random live block, allocate a new one. Only those calls are measured: "
                  "calls per second from the replay's clock, instructions per call by callgrind (inside the "
                  f"allocator's calls, over {args.growth_ops} calls after the live set is built). An allocator "
                  "whose cost does not depend on N draws a flat line in growth.svg. A run that cannot build the "
                  f"live set, or make the measured calls, within the cap ({cap:g} s) is **over cap**, with how "
                  "far it got; a rate measured over the part it did is marked `*`.\n")

        def g_speed(w, a):
            s = summary_of(results, (w.name, a.name))
            if s is None:
                return "n/a"
            rate = growth_rate(s)
            if s["status"] == "over_cap":
                return growth_status(w, s) + (f", {si(rate)}/s*" if rate else "")
            if s["status"] != "ok":
                return status_text(s, trace_ops.get(w.name))
            if a is glibc:
                return f"**{si(rate)}/s**"
            r = growth_ratio(results, w, a, glibc)
            return f"{ratio_text(r)} ({si(rate)}/s)" if r is not None else f"{si(rate)}/s"

        table("Cost as the heap grows: calls per second",
              "The measured calls' rate as a ratio to glibc's in the same repetition (median), and the "
              "allocator's own rate; the glibc column gives its rate.", g_speed, growth)

        def g_instr(w, a):
            v = instr.get((w.name, a.name))
            if v is not None:
                return si(v)
            s = summary_of(results, (w.name, a.name))
            if s is not None and s["status"] == "over_cap" and num(s, "steady_ops", 0) <= 0:
                return growth_status(w, s)
            return "n/a"

        if instr:
            table("Cost as the heap grows: instructions per call",
                  f"callgrind, inside the allocator's calls, over {args.growth_ops} calls after the live set is "
                  "built (not counted where the timed run could not build it within the cap).", g_instr, growth)

        def g_mem(w, a):
            s = summary_of(results, (w.name, a.name))
            if s is None or s["status"] not in ("ok", "over_cap"):
                return "n/a" if s is None else status_text(s, trace_ops.get(w.name))
            e = efficiency(s)
            return "n/a" if e is None else f"{100 * e:.0f}%" + ("*" if s["status"] == "over_cap" else "")

        table("Cost as the heap grows: memory efficiency",
              "Beside the speed: peak live bytes over the peak footprint, measured as in the memory table "
              "(stages: the sbrk double and their mappings; the others: resident memory).", g_mem, growth)

    # The targets the issues set for the last stage, with this run's figures.
    md.extend(targets_section(results, allocs, workloads, instr, glibc, resident, trace_ops, cap))

    # Details.
    md.append("## Every run\n")
    md.append("Median rate over the repetitions; the other figures from the first repetition. Footprint: sbrk "
              "peak for the stages, resident peak for the others. Emulated: calls the stage lacks, done with "
              "what it has (calloc as malloc + memset, realloc as malloc + copy + free, the memalign family as "
              "malloc of size + alignment - 1). Passes: how many times a short trace was replayed in the run "
              "(what was live freed in between) so that the run lasts long enough to time. Misaligned: results "
              "aligned less than C promises (16 bytes, or the size rounded down to a power of two if smaller).\n")
    md.append("| workload | allocator | status | calls done | passes | calls/s | peak live | peak footprint | "
              "resident at end | OS calls | emulated | misaligned |")
    md.append("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for w in workloads + growth:
        for a in cols:
            if not applies(w, a):
                continue
            s = summary_of(results, (w.name, a.name))
            if s is None:
                continue
            counted = os_counts.get((w.name, a.name))
            if a.kind == "stage" and w.kind != "threads" and "sbrk_calls" in s:
                osc = (f"sbrk: {num(s, 'sbrk_grows', 0):.0f} grow, {num(s, 'sbrk_shrinks', 0):.0f} shrink, "
                       f"{num(s, 'sbrk_queries', 0):.0f} queries")
            elif counted is not None and counted.get("os_counted") == "1":
                parts = [f"{k[3:]} {counted[k]}" for k in ("os_mmap", "os_munmap", "os_mremap", "os_madvise",
                                                             "os_mprotect", "os_brk") if counted.get(k, "0") != "0"]
                osc = ", ".join(parts) or "none"
            else:
                osc = "n/a"
            emu = sum(int(num(s, k, 0)) for k in ("emulated_calloc", "emulated_realloc", "emulated_aligned"))
            md.append(f"| {w.name} | {a.label} | {status_text(s, trace_ops.get(w.name))} | "
                      f"{num(s, 'ops_done', 0):,.0f} | {s.get('passes', '')} | {si(s['rate'])} | "
                      f"{size_text(num(s, 'peak_live'))} | "
                      f"{size_text(footprint_of(s))} | {size_text(num(s, 'rss_end'))} | {osc} | "
                      f"{emu if emu else ''} | {int(num(s, 'misaligned', 0)) or ''} |")
    md.append("")
    md.append("Heap pictures after the demo workload: " +
              ", ".join(f"[{os.path.basename(p)}]({os.path.basename(p)})"
                        for p in sorted(glob.glob(os.path.join(outdir, "heapmap-*.svg")))) + ".\n")

    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write("\n".join(md))

    # ---- the pictures.
    rows = [w.name for w in workloads]
    labels = [a.label for a in cols]

    def speed_svg(i, j):
        w, a = workloads[i], cols[j]
        if not applies(w, a):
            return None
        s = summary_of(results, (w.name, a.name))
        if s is None:
            return None
        if s["status"] == "over_cap":
            return ("over cap", GREY)
        if s["status"] != "ok":
            return (s["status"].split("_")[0][:9], BAD)
        if a is glibc:
            return (si(s["rate"]) + "/s", "#dddddd")
        r = speed_ratio(results, w, a, glibc)
        return (ratio_text(r), speed_colour(r)) if r else None

    heatmap(os.path.join(outdir, "speed.svg"), "Speed against glibc (calls per second, ratio)",
            f"Median of {reps} interleaved repetitions; each cell is the allocator's rate over glibc's; the glibc "
            f"column is its own rate. Cap: {cap:g} s a run.", rows, labels, speed_svg,
            [(mix(EVEN, SLOW, 1), "1000× slower"), (mix(EVEN, SLOW, 1 / 3), "10× slower"), (EVEN, "as fast"),
             (FAST, "10× faster"), (GREY, f"over cap ({cap:g} s)"), (BAD, "crashed / corrupted")])

    def mem_svg(i, j):
        w, a = workloads[i], cols[j]
        if not applies(w, a):
            return None
        s = summary_of(results, (w.name, a.name))
        if s is None:
            return None
        if s["status"] not in ("ok", "over_cap"):
            return (s["status"].split("_")[0][:9], BAD)
        e = efficiency(s)
        if e is None:
            return None
        return (f"{100 * e:.0f}%" + ("*" if s["status"] == "over_cap" else ""), seq_colour(e))

    heatmap(os.path.join(outdir, "memory.svg"), "Memory efficiency: peak live bytes / peak heap footprint",
            "Stages: the sbrk double's peak break. Others: peak resident memory (VmHWM). * over cap: the part "
            "replayed.", rows, labels, mem_svg,
            [(seq_colour(0.1), "10%"), (seq_colour(0.5), "50%"), (seq_colour(0.9), "90%"), (BAD, "failed")])

    if resident:
        def res_svg(i, j):
            w, a = res_rows[i], res_cols[j]
            s = resident_kv(w, a)
            if s is None:
                return None
            if s["status"] not in ("ok", "over_cap"):
                return (s["status"].split("_")[0][:9], BAD)
            e = efficiency(s)
            if e is None:
                return None
            return (f"{100 * e:.0f}%" + ("*" if s["status"] == "over_cap" else ""), seq_colour(e))

        heatmap(os.path.join(outdir, "memory-resident.svg"),
                "Memory efficiency, resident: peak live bytes / peak resident memory",
                "Every column measured the same way: the stages that define malloc preloaded, like the peers; "
                "VmHWM over the replay. * over cap: the part replayed.", [w.name for w in res_rows],
                [a.label for a in res_cols], res_svg,
                [(seq_colour(0.1), "10%"), (seq_colour(0.5), "50%"), (seq_colour(0.9), "90%"), (BAD, "failed")])

    if growth:
        def g_note(a):
            over = []
            for w in growth:
                s = summary_of(results, (w.name, a.name))
                if s is not None and s["status"] == "over_cap":
                    over.append(f"{w.live // 1000}k: {growth_status(w, s)}")
            return (" — " + "; ".join(over)) if over else ""

        def g_instr_value(w, a):
            return instr.get((w.name, a.name))

        def g_rate_value(w, a):
            s = summary_of(results, (w.name, a.name))
            return None if s is None or s["status"] not in ("ok", "over_cap") else growth_rate(s)

        panels = []
        if instr:
            panels.append(("Instructions per malloc/free", g_instr_value, "callgrind"))
        panels.append(("Calls per second", g_rate_value, "median rate; over cap: the part done"))
        growth_svg(os.path.join(outdir, "growth.svg"), "Cost per call as the heap grows",
                   "N small blocks live, then calls that free a random one and allocate one; only those calls "
                   f"are measured. Dashed: the stages. Cap {cap:g} s a run: a stage that cannot build the live "
                   "set in time has no point there (the legend says how far it got).", growth, cols, panels, g_note)

    def log_svg(value_fn, top_value):
        def f(i, j):
            w, a = workloads[i], cols[j]
            v = value_fn(w, a)
            if v is None:
                return None
            text, value = v
            t = math.log10(1 + value) / math.log10(1 + top_value) if top_value else 0
            return (text, seq_colour(t))
        return f

    def os_value(w, a):
        if not applies(w, a):
            return None
        s = summary_of(results, (w.name, a.name))
        n, _ = os_calls_of(s if a.kind == "stage" and w.kind != "threads" else None, os_counts.get((w.name, a.name)))
        if n is None:
            return None
        partial = s is not None and s["status"] == "over_cap"
        return (f"{si(n)}" + ("*" if partial else ""), n)

    top_os = max([v[1] for v in (os_value(w, a) for w in workloads for a in cols) if v] or [1])
    heatmap(os.path.join(outdir, "os-calls.svg"), "Calls to the OS",
            "Stages: sbrk calls that moved the break. Others: mmap, munmap, mremap, madvise, mprotect and brk "
            "system calls. * over cap: the part replayed.", rows, labels, log_svg(os_value, top_os),
            [(seq_colour(0), "none"), (seq_colour(0.5), f"about {si(math.sqrt(top_os))}"),
             (seq_colour(1), f"{si(top_os)}")])

    if instr:
        def instr_value(w, a):
            v = instr.get((w.name, a.name))
            return None if v is None else (si(v), v)

        irows = [w for w in workloads if any(instr.get((w.name, a.name)) for a in cols)]
        top_i = max([v for v in instr.values() if v] or [1])
        colour_of = log_svg(instr_value, top_i)

        def instr_svg(i, j):
            return colour_of(workloads.index(irows[i]), j)

        heatmap(os.path.join(outdir, "instructions.svg"), "Instructions per call",
                instr_how, [w.name for w in irows], labels, instr_svg,
                [(seq_colour(0), "few"), (seq_colour(0.5), f"about {si(math.sqrt(top_i))}"),
                 (seq_colour(1), si(top_i))])

    # ---- and on the terminal.
    text = "\n".join(md)
    start = text.index("## Speed against glibc")
    end = text.index("## Calls to the OS")
    log("\n" + text[start:end])
    if growth:
        start = text.index("## Cost as the heap grows: calls per second")
        end = text.index("## Cost as the heap grows: memory efficiency")
        log(text[start:end])
    log(f"results: {os.path.relpath(outdir, os.getcwd())}/bench.md, speed.svg, memory.svg, os-calls.svg"
        + (", instructions.svg" if instr else "") + (", growth.svg" if growth else "")
        + (", memory-resident.svg" if resident else "") + ", heapmap-NN.svg"
        + f"  ({elapsed / 60:.1f} minutes)")


if __name__ == "__main__":
    main()
