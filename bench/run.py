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

# Real programs (tests/real-programs: its commands and inputs): the five, and two that keep a
# large heap of small blocks live. Measured on glibc, the peers and the preloadable stages from
# REAL_FROM_STAGE on (Part II's second half: the stages meant to compete with the peers).
REAL_PROGRAMS = ("g++", "perl", "python3", "git", "sort", "perl_hash_200k", "python3_dict_200k")
REAL_PROGRAMS_QUICK = ("perl", "sort", "git")
REAL_FROM_STAGE = 13
REAL_SCRIPT = os.path.join(ROOT, "tests", "real-programs")

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


# ---- real programs ---------------------------------------------------------------------

def listed_slow(a):
    """The real programs a stage's limitations.txt lists as too slow for it (real.NAME)."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "stages", f"{a.name}-*", "limitations.txt")):
        with open(path) as f:
            for line in f:
                name = line.split("|", 1)[0].strip()
                if name.startswith("real."):
                    names.add(name[len("real."):])
    return names


def run_program(cmd, lib, env, workdir, cap):
    """One run of a real program's command (bash -c, in a fresh folder), with lib preloaded (None:
    glibc). Returns {"status": ok | timeout, "seconds", "output": (stdout, stderr, exit)}."""
    d = tempfile.mkdtemp(dir=workdir, prefix="run.")
    e = dict(env)
    if lib:
        e["LD_PRELOAD"] = lib
    start = time.perf_counter()
    p = subprocess.Popen(["bash", "-c", cmd], cwd=d, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=cap)
        status = "ok"
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, 9)  # the program's whole process group: compilers and git's children too
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        status = "timeout"
    seconds = time.perf_counter() - start
    shutil.rmtree(d, ignore_errors=True)
    return {"status": status, "seconds": seconds, "output": (out, err, p.returncode)}


def real_programs(allocs, glibc, names, rounds, cap):
    """Wall time of real programs on each allocator in `allocs` (glibc among them), `rounds` runs each,
    interleaved: every round runs every allocator on a program before the next program, glibc first
    in the first round (its output is the reference; that run also warms the file cache), the order
    reversed in the next. Every run's output (stdout, stderr, exit status) must be glibc's first one.
    Returns {(program, alloc): {"status", "times", "why"}}; the figure is the best of the runs."""
    listing = subprocess.run([REAL_SCRIPT, "--commands"], capture_output=True, text=True)
    commands = dict(line.split("|", 1) for line in listing.stdout.splitlines() if "|" in line)
    for n in names:
        if n not in commands:
            log(f"  real programs: {n} is not one of tests/real-programs --commands; left out")
    names = [n for n in names if n in commands]
    workdir = tempfile.mkdtemp(prefix="hm-bench-real.")
    try:
        prep = subprocess.run([REAL_SCRIPT, "--prepare", workdir], capture_output=True, text=True)
        if prep.returncode != 0:
            log("  real programs: tests/real-programs --prepare failed: " + prep.stderr.strip())
            return {}, names
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        env.update(parse_kv(prep.stdout))
        env["PYTHONMALLOC"] = "malloc"  # python3's objects through malloc, not its own pools
        res = {}
        slow = {a.name: listed_slow(a) for a in allocs if a.kind == "stage"}
        ref = {}
        for rnd in range(rounds):
            for prog in names:
                order = [glibc] + [a for a in allocs if a is not glibc]
                if rnd % 2:
                    order.reverse()
                parts = []
                for a in order:
                    r = res.setdefault((prog, a.name), {"status": "ok", "times": [], "why": ""})
                    if prog in slow.get(a.name, ()):
                        r["status"] = "listed"
                        r["why"] = f"listed as too slow in stages/{a.name}-*/limitations.txt: not run"
                        continue
                    if r["status"] != "ok":
                        continue  # timed out or failed once: not run again
                    base = res.get((prog, glibc.name), {}).get("times")
                    limit = max(10 * min(base), 10.0) if base and a is not glibc else cap
                    one = run_program(commands[prog], a.lib if a is not glibc else None, env, workdir, limit)
                    if a is glibc and prog not in ref:
                        ref[prog] = one["output"]
                    if one["status"] == "timeout":
                        r["status"] = "timeout"
                        r["why"] = f"killed after {limit:.0f} s"
                        parts.append(f"{a.label} over {limit:.0f} s")
                        continue
                    r["times"].append(one["seconds"])
                    if prog in ref and one["output"] != ref[prog]:
                        r["status"] = "differs"
                        out, err, code = one["output"]
                        rout, rerr, rcode = ref[prog]
                        what = [w for w, x, y in (("stdout", out, rout), ("stderr", err, rerr),
                                                  ("exit status", code, rcode)) if x != y]
                        r["why"] = "its " + " and ".join(what) + (" differ" if len(what) > 1 else " differs") + \
                            " from glibc's"
                        log(f"  MISMATCH: {prog} on {a.label}: {r['why']} (exit {code}, glibc's {rcode})")
                        for line in (err.decode(errors="replace").splitlines()[:5] if err != rerr else []):
                            log(f"    stderr: {line}")
                    parts.append(f"{a.label} {one['seconds']:.2f} s")
                log(f"  {prog:17s} " + "  ".join(parts))
        return res, names
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def real_best(real, prog, a):
    r = real.get((prog, a.name))
    return min(r["times"]) if r and r["status"] == "ok" and r["times"] else None


def real_ratio(real, prog, a, glibc):
    """Wall time over glibc's, best run against best run (above 1: slower than glibc)."""
    mine, base = real_best(real, prog, a), real_best(real, prog, glibc)
    return mine / base if mine and base else None


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


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
    ap.add_argument("--only", help="comma-separated workloads to run (`growth`: the growth figure; `real`: the "
                    "real programs)")
    ap.add_argument("--real-programs", help="comma-separated real programs to time (names from tests/real-programs "
                    "--list without real.; default " + ",".join(REAL_PROGRAMS) + "; --quick " +
                    ",".join(REAL_PROGRAMS_QUICK) + ")")
    ap.add_argument("--real-stages", help="comma-separated stages to time the real programs on (default: the "
                    f"preloadable stages from {REAL_FROM_STAGE:02d} on; --quick the last one)")
    ap.add_argument("--real-rounds", type=int, help="runs of each real program on each allocator, the best "
                    "counts (default 2; --quick 1)")
    ap.add_argument("--real-cap", type=float, default=120, help="seconds glibc's run of a real program may take "
                    "(default 120); the others get 10 times glibc's best, at least 10 s")
    ap.add_argument("--no-real", action="store_true", help="skip the real programs")
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
    do_real = not args.no_real and (not args.only or "real" in args.only.split(","))
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

    # ---- real programs: wall time, preloaded (tests/real-programs' commands and inputs).
    real, real_names, real_allocs, real_rounds = {}, [], [], args.real_rounds or (1 if args.quick else 2)
    if do_real:
        stages = [a for a in allocs if a.kind == "stage" and a.standard_names]
        if args.real_stages:
            wanted = {f"{int(x):02d}" for x in args.real_stages.split(",") if x.strip()}
            stages = [a for a in stages if a.name in wanted]
        elif args.quick:
            stages = stages[-1:]
        else:
            stages = [a for a in stages if int(a.name) >= REAL_FROM_STAGE]
        real_allocs = [glibc] + [a for a in allocs if a.kind == "system" and a is not glibc] + stages
        names = args.real_programs.split(",") if args.real_programs else \
            list(REAL_PROGRAMS_QUICK if args.quick else REAL_PROGRAMS)
        log(f"\nreal programs, wall time, best of {real_rounds} (" + ", ".join(a.label for a in real_allocs) + ")")
        t0 = time.time()
        real, real_names = real_programs(real_allocs, glibc, names, real_rounds, args.real_cap)
        log(f"  ({time.time() - t0:.0f} s)")
        bad = sorted({f"{p} on {a}" for (p, a), r in real.items() if r["status"] in ("differs", "timeout")})
        if bad:
            log("  WARNING: not glibc's output, or over the cap: " + ", ".join(bad))

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
           trace_ops, elapsed, messages, growth, resident, (real, real_names, real_allocs, real_rounds))


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


def stage_title(a):
    """A stage's full name (13-segregated-fits); a peer's own."""
    if a.kind != "stage":
        return a.label
    d = [os.path.basename(d) for d in stage_dirs() if os.path.basename(d)[:2] == a.name]
    return d[0] if d else a.label


def overview(allocs, workloads, results, instr, resident, glibc, real_run):
    """Every allocator's figures on one line: [{alloc, speed, over, failed, n, worst, churn, mem_min,
    mem_geo, mem_how, threads, threads_over, real}]. Speed: the geometric mean over the bench workloads
    (not the growth ones) of the rate over glibc's; a run over cap counts with the rate of the part it did."""
    real, real_names, real_allocs, _ = real_run
    rows = []
    for a in allocs:
        ratios, over, failed = {}, [], []
        for w in workloads:
            if not applies(w, a):
                continue
            s, g = summary_of(results, (w.name, a.name)), summary_of(results, (w.name, glibc.name))
            if s is None or g is None or g["status"] != "ok" or not g["rate"]:
                continue
            if a is glibc:
                ratios[w.name] = 1.0
            elif s["status"] == "ok":
                ratios[w.name] = speed_ratio(results, w, a, glibc)
            elif s["status"] == "over_cap" and s.get("rate"):
                ratios[w.name] = s["rate"] / g["rate"]
                over.append(w.name)
            else:
                failed.append(w.name)
        ratios = {k: v for k, v in ratios.items() if v}
        worst = min(ratios, key=ratios.get) if ratios else None
        # Memory: resident for everyone who can be measured so; a stage that cannot be preloaded by
        # its heap footprint in the sbrk double.
        traces = [w for w in workloads if w.kind == "trace"]
        how = "resident"
        if a.kind == "stage" and not all(resident.get((w.name, a.name)) for w in traces):
            how = "sbrk"
        effs = {}
        for w in traces:
            kv = resident.get((w.name, a.name)) if a.kind == "stage" and how == "resident" else \
                summary_of(results, (w.name, a.name))
            e = efficiency(kv) if kv and kv["status"] in ("ok", "over_cap") else None
            if e:
                effs[w.name] = e
        mem_min = min(effs, key=effs.get) if effs else None
        thr = next((w for w in workloads if w.kind == "threads"), None)
        threads, threads_over = None, False
        if thr is not None and applies(thr, a):
            st = summary_of(results, (thr.name, a.name))
            gt = summary_of(results, (thr.name, glibc.name))
            if st is not None and st["status"] == "ok":
                threads = 1.0 if a is glibc else speed_ratio(results, thr, a, glibc)
            elif st is not None and st["status"] == "over_cap" and gt and gt.get("rate") and st.get("rate"):
                threads, threads_over = st["rate"] / gt["rate"], True
        real_geo = None
        if any(x.name == a.name for x in real_allocs):
            real_geo = geomean([real_ratio(real, p, a, glibc) for p in real_names])
        rows.append({"alloc": a, "speed": geomean(ratios.values()), "n": len(ratios), "over": over,
                     "failed": failed, "worst": worst, "worst_ratio": ratios.get(worst),
                     "churn": instr.get(("churn", a.name)), "mem_min": mem_min, "mem_min_value": effs.get(mem_min),
                     "mem_geo": geomean(effs.values()), "mem_n": len(effs), "mem_how": how,
                     "threads": threads, "threads_over": threads_over, "real": real_geo,
                     "real_n": sum(1 for p in real_names if real_ratio(real, p, a, glibc))})
    return rows


def overview_svg(path, title, subtitle, rows):
    """A scatter: x the memory efficiency (geometric mean over the recorded traces), y the speed
    (geometric mean of the ratio to glibc, log scale), one mark per allocator."""
    pts = [r for r in rows if r["speed"] and r["mem_geo"]]
    if not pts:
        return
    pw, ph, left, top = 560, 380, 80, 100
    width, height = left + pw + 230, top + ph + 70
    palette = {"glibc": "#000000", "jemalloc": "#1b9e77", "mimalloc": "#2166ac", "tcmalloc": "#7570b3"}
    stages = [r["alloc"] for r in rows if r["alloc"].kind == "stage"]

    def colour(a):
        if a.name in palette:
            return palette[a.name]
        return mix("#f4a582", "#67001f", stages.index(a) / max(len(stages) - 1, 1))

    y_lo = math.floor(math.log10(min(r["speed"] for r in pts)))
    y_hi = math.ceil(math.log10(max(r["speed"] for r in pts)))
    if y_hi == y_lo:
        y_hi += 1
    x_hi = min(1.0, math.ceil(max(r["mem_geo"] for r in pts) * 10 + 0.5) / 10)
    x_lo = max(0, math.floor(min(r["mem_geo"] for r in pts) * 10 - 0.5) / 10)

    def X(v):
        return left + (v - x_lo) / (x_hi - x_lo) * pw

    def Y(v):
        return top + ph - (math.log10(v) - y_lo) / (y_hi - y_lo) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{left}" y="26" font-size="17" font-weight="bold">{esc(title)}</text>']
    for k, text in enumerate(wrap(subtitle, width - left - 20)[:4]):
        out.append(f'<text x="{left}" y="{46 + 15 * k}" font-size="12" fill="#333">{esc(text)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for e in range(y_lo, y_hi + 1):
        for m in ((1, 2, 5) if y_hi - y_lo <= 2 else (1,)):
            v = m * 10 ** e
            if v > 10 ** y_hi:
                continue
            y = Y(v)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                       f'{ratio_text(v)}</text>')
    k = round(x_lo * 10)
    while k * 0.1 <= x_hi + 1e-9:
        x = X(k * 0.1)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{10 * k}%</text>')
        k += 1
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 36}" font-size="12" text-anchor="middle">memory efficiency '
               '(peak live / peak footprint), geometric mean over the recorded traces</text>')
    out.append(f'<text x="{left - 52}" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 {left - 52} {top + ph / 2})">calls per second, geometric mean of the ratio '
               'to glibc</text>')
    g = next((r for r in pts if r["alloc"].name == "glibc"), None)
    if g is not None:
        out.append(f'<line x1="{X(g["mem_geo"]):.1f}" y1="{top}" x2="{X(g["mem_geo"]):.1f}" y2="{top + ph}" '
                   'stroke="#000" stroke-dasharray="4,4" stroke-width="0.8"/>')
        out.append(f'<line x1="{left}" y1="{Y(1):.1f}" x2="{left + pw}" y2="{Y(1):.1f}" '
                   'stroke="#000" stroke-dasharray="4,4" stroke-width="0.8"/>')
        out.append(f'<text x="{left + pw - 4}" y="{top + 14}" font-size="11" text-anchor="end" fill="#555">'
                   'faster and leaner than glibc ↗</text>')
    # Marks first, then each label beside its mark where it covers no mark and no other label: right,
    # left, above, below, then further out.
    marks = [(X(r["mem_geo"]), Y(r["speed"]), r) for r in pts]
    boxes = [(x - 6, y - 6, x + 6, y + 6) for x, y, _ in marks]
    for x, y, r in marks:
        a, c = r["alloc"], colour(r["alloc"])
        hollow = r["mem_how"] == "sbrk"
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{"#fff" if hollow else c}" stroke="{c}" '
                   'stroke-width="2"/>')
    for x, y, r in sorted(marks, key=lambda m: m[1]):
        a, c = r["alloc"], colour(r["alloc"])
        text = a.label + ("*" if r["over"] else "")
        tw = 6.3 * len(text)
        spots = []
        for d in (0, 1, 2, 3, 4, 5):
            spots += [(x + 8 + 10 * d, y + 4, "start"), (x - 8 - 10 * d, y + 4, "end"),
                      (x - tw / 2, y - 9 - 11 * d, "start"), (x - tw / 2, y + 17 + 11 * d, "start")]

        def box(spot):
            lx, ly, anchor = spot
            x0 = lx - tw if anchor == "end" else lx
            return (x0, ly - 9, x0 + tw, ly + 2)

        def free(b):
            return all(b[2] < o[0] or b[0] > o[2] or b[3] < o[1] or b[1] > o[3] for o in boxes)

        spot = next((sp for sp in spots if free(box(sp))), spots[0])
        boxes.append(box(spot))
        out.append(f'<text x="{spot[0]:.1f}" y="{spot[1]:.1f}" font-size="11" fill="{c}" '
                   f'text-anchor="{spot[2]}">{esc(text)}</text>')
    lx, ly = left + pw + 20, top + 10
    for k, r in enumerate(rows):
        a = r["alloc"]
        y = ly + 15 * k
        c = colour(a)
        out.append(f'<circle cx="{lx + 5}" cy="{y - 4}" r="4" fill="{"#fff" if r["mem_how"] == "sbrk" else c}" '
                   f'stroke="{c}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 14}" y="{y}" font-size="11">{esc(stage_title(a))}</text>')
    y = ly + 15 * len(rows) + 10
    for text in ("hollow: memory from the sbrk double", "(resident not measured)", "*: some workloads over cap"):
        out.append(f'<text x="{lx}" y="{y}" font-size="10" fill="#555">{esc(text)}</text>')
        y += 13
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


def targets_section(results, allocs, workloads, instr, glibc, resident, trace_ops, cap, real_run):
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

    # Real programs: this run's figures (the section "Real programs") when it timed the last stage,
    # else the real-program check's (tests/real-programs, run by make test).
    real, real_names, real_allocs, real_rounds = real_run
    target = "every real program within 1.5x glibc's wall time"
    if any(a.name == last.name for a in real_allocs) and real:
        over15, worst, differs = [], None, []
        for prog in real_names:
            r = real.get((prog, last.name), {})
            ratio = real_ratio(real, prog, last, glibc)
            if r.get("status") == "differs":
                differs.append(prog)
            elif ratio is None:
                over15.append(f"{prog} {r.get('status', 'not run')}")
            else:
                worst = ratio if worst is None else max(worst, ratio)
                if ratio > 1.5:
                    over15.append(f"{prog} {ratio:.2f}x")
        row(target + " (and glibc's output)",
            (f"{len(real_names)} programs, worst {worst:.2f}x" if worst else f"{len(real_names)} programs") +
            (": over 1.5x: " + ", ".join(over15) if over15 else "") +
            (": **output differs**: " + ", ".join(differs) if differs else "") +
            f" (this run, best of {real_rounds}: section Real programs)", not over15 and not differs)
    else:
        real, path = real_program_ratios(last.name)
        rel = os.path.relpath(path, ROOT)
        if real:
            over15 = [f"{n} {'over cap' if r is None else f'{r:.1f}x'}" for n, r in real.items()
                      if r is None or r > 1.5]
            worst = max((r for r in real.values() if r is not None), default=None)
            row(target, (f"{len(real)} programs, worst {worst:.1f}x" if worst else f"{len(real)} programs") +
                (": over 1.5x: " + ", ".join(over15) if over15 else "") +
                f" (from `{rel}`, written by `make test`)", not over15)
        else:
            row(target, f"`{rel}` not found: run `make test` first", None)
    md.append("")
    return md


def report(outdir, args, reps, cap, allocs, workloads, results, os_counts, instr, instr_how, glibc, missing,
           trace_ops, elapsed, messages, growth, resident, real_run):
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

    # Every allocator on one line (Part II in numbers).
    ov_rows = overview(allocs, workloads, results, instr, resident, glibc, real_run)
    real, real_names, real_allocs, real_rounds = real_run
    n_speed = len([w for w in workloads])
    md.append("## Every allocator on one line\n")
    md.append(f"Each stage and each peer summed up from the tables below (chart: [overview.svg](overview.svg)). "
              f"**Speed**: the geometric mean, over the {n_speed} bench workloads (the growth ones aside), of the "
              "calls per second as a ratio to glibc's (the speed table's figures); a stage without the standard "
              "names has no threads workload, so one fewer. A run **over cap** counts with the rate of the part it "
              "did (calls done over the cap), which flatters it, since the allocators that go over cap are "
              "those whose cost grows with the heap: such a mean is marked `*` with how many workloads were "
              "over cap. A run that crashed or corrupted a block is left out and named. **Slowest**: the "
              "workload with the lowest ratio. **Churn**: instructions per call on churn (the instruction table). "
              "**Memory**: peak live bytes over peak resident memory on the recorded traces (the resident "
              "table), the lowest (with its trace) and the geometric mean; for a stage without a resident figure "
              "(marked †: 01 to 06 cannot be preloaded, and a quick run measures the last stage only) its "
              "footprint in the sbrk double instead. **Threads**: the threads workload's ratio to "
              "glibc. **Real programs**: the geometric mean of the wall time over glibc's (below 1 is faster) "
              "over the programs of the section Real programs.\n")
    md.append("| allocator | speed vs glibc, geomean | slowest workload | churn instr./call | memory, lowest | "
              "memory, geomean | threads vs glibc | real programs, time vs glibc |")
    md.append("|---|---:|---|---:|---|---:|---:|---:|")
    for r in ov_rows:
        a = r["alloc"]
        speed = "n/a" if not r["speed"] else ratio_text(r["speed"]) + (f"* ({len(r['over'])} over cap)"
                                                                       if r["over"] else "")
        if r["failed"]:
            speed += " (left out, failed: " + ", ".join(r["failed"]) + ")"
        worst = "–" if a is glibc else "n/a" if r["worst"] is None else f"{r['worst']} {ratio_text(r['worst_ratio'])}" + \
            ("*" if r["worst"] in r["over"] else "")
        dag = "†" if r["mem_how"] == "sbrk" else ""
        mmin = "n/a" if r["mem_min"] is None else f"{100 * r['mem_min_value']:.0f}%{dag} ({r['mem_min']})"
        mgeo = "n/a" if r["mem_geo"] is None else f"{100 * r['mem_geo']:.0f}%{dag}"
        if a.kind == "stage" and not a.standard_names:
            thr = "–"
        else:
            thr = "n/a" if r["threads"] is None else ratio_text(r["threads"]) + ("* (over cap)" if r["threads_over"]
                                                                                 else "")
        rl = "–" if r["real"] is None else f"{r['real']:.2f}× ({r['real_n']} programs)"
        name = f"**{stage_title(a)}**" if a is glibc else stage_title(a)
        md.append(f"| {name} | {speed} | {worst} | {si(r['churn']) if r['churn'] else 'n/a'} | {mmin} | {mgeo} | "
                  f"{thr} | {rl} |")
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

    # Real programs.
    if real_names and real:
        md.append("## Real programs\n")
        md.append(f"Wall time of real programs, the commands and inputs of the real-program check "
                  f"(`tests/real-programs --commands`), each preloaded with the allocator (glibc: nothing "
                  f"preloaded) in a fresh folder, with `PYTHONMALLOC=malloc` for every run (python3's objects "
                  f"through malloc). " + (f"Best of {real_rounds} runs, interleaved: every allocator runs a "
                  "program before the next program starts, glibc first in the first round, the order reversed "
                  "in the next." if real_rounds > 1 else "One run each, glibc first.") + f" Each cell: the best time as a ratio to glibc's best (above 1 is slower), then the "
                  f"seconds. Every run's stdout, stderr and exit status must be glibc's first run's: a run that "
                  f"differs is marked **output differs** (and the bench says so on the terminal). A program a "
                  f"stage lists as too slow (real.NAME in its limitations.txt) is not run; a run over its cap "
                  f"(10 times glibc's best, at least 10 s) is killed and not run again.\n")
        md.append("| program | " + " | ".join(a.label for a in real_allocs) + " |")
        md.append("|---|" + "---:|" * len(real_allocs))

        def real_cell(prog, a):
            r = real.get((prog, a.name))
            if r is None:
                return "n/a"
            if r["status"] == "differs":
                return "**output differs**"
            if r["status"] == "timeout":
                return f"over cap ({r['why']})"
            if r["status"] == "listed":
                return "not run (listed)"
            best = real_best(real, prog, a)
            if best is None:
                return "n/a"
            if a is glibc:
                return f"**{best:.2f} s**"
            ratio = real_ratio(real, prog, a, glibc)
            return f"{ratio:.2f}× ({best:.2f} s)" if ratio else f"{best:.2f} s"

        for prog in real_names:
            md.append(f"| {prog} | " + " | ".join(real_cell(prog, a) for a in real_allocs) + " |")
        md.append("| geometric mean | " + " | ".join(
            "1.00×" if a is glibc else (lambda g: f"{g:.2f}×" if g else "n/a")(
                geomean([real_ratio(real, p, a, glibc) for p in real_names])) for a in real_allocs) + " |")
        md.append("")

    # The targets the issues set for the last stage, with this run's figures.
    md.extend(targets_section(results, allocs, workloads, instr, glibc, resident, trace_ops, cap, real_run))

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

    overview_svg(os.path.join(outdir, "overview.svg"), "Every allocator on one chart: speed and memory",
                 "Up: faster (geometric mean over the bench workloads of calls per second over glibc's; a run over "
                 "cap counts with the part it did, marked *). Right: leaner (peak live bytes over peak resident "
                 "memory, geometric mean over the recorded traces). Dashed: glibc. One run of make bench.", ov_rows)

    # ---- and on the terminal.
    text = "\n".join(md)
    start = text.index("## Every allocator on one line")
    end = text.index("## Calls to the OS")
    log("\n" + text[start:end])
    if "## Real programs" in text:
        start = text.index("## Real programs")
        log(text[start:text.index("## ", start + 3)])
    if growth:
        start = text.index("## Cost as the heap grows: calls per second")
        end = text.index("## Cost as the heap grows: memory efficiency")
        log(text[start:end])
    log(f"results: {os.path.relpath(outdir, os.getcwd())}/bench.md, overview.svg, speed.svg, memory.svg, os-calls.svg"
        + (", instructions.svg" if instr else "") + (", growth.svg" if growth else "")
        + (", memory-resident.svg" if resident else "") + ", heapmap-NN.svg"
        + f"  ({elapsed / 60:.1f} minutes)")
    bad = sorted(f"{p} on {a}: {r['why']}" for (p, a), r in real_run[0].items() if r["status"] in ("differs", "timeout"))
    if bad:
        log("WARNING: real programs that did not give glibc's output in time:\n  " + "\n  ".join(bad))


if __name__ == "__main__":
    main()
