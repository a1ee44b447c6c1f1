#!/usr/bin/python3
"""Side-by-side benchmark: our MoCo step (build/bin/moco_bench) and the same
step in PyTorch (bench/torch_step.py), plus the data pipeline and the
prefetch overlap. See bench/README.md.

    python3 bench/run.py [--build build] [--rounds 3] [--quick] [--out FILE]

Every measurement is a fresh process (peak RSS is per process). Ours and
PyTorch alternate inside each round so that a change in machine load hits
both; the medians are over all repetitions of all rounds. Standard library
only; PyTorch is skipped with a message when python3-torch is missing.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIGS = [("cifar", 32), ("cifar", 256), ("imagenet", 32)]
THREADS = [1, 2]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - informational only
        return ""


def run_json(cmd, env=None):
    """Run cmd, return the last JSON line of stdout or (None, message)."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line), None
    return None, "no JSON output"


def loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = sh("grep -m1 -o -w -e avx512f -e avx2 -e fma /proc/cpuinfo | sort -u | tr '\\n' ' '")
    return {"cpu": model, "cores": os.cpu_count(), "flags": flags.strip(),
            "kernel": platform.release(), "mem": sh("free -g | awk '/Mem:/{print $2\" GiB\"}'")}


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build directory holding bin/moco_bench (default: build)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per configuration")
    ap.add_argument("--reps", type=int, default=0,
                    help="timed steps per process (default 5 at batch 32, 2 at batch 256)")
    ap.add_argument("--quick", action="store_true", help="1 round, fewer steps: a smoke run")
    ap.add_argument("--only", default="", help="comma list like cifar32,imagenet32,cifar256")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    ap.add_argument("--out", default="", help="results file (default bench/results/DATE.json)")
    ap.add_argument("--render", default="", help="only print the table of an existing results file")
    a = ap.parse_args()
    if a.render:
        with open(a.render) as f:
            res = json.load(f)
        for e in res["steps"]:
            if e.get("runs_moco") and e.get("runs_pytorch"):
                e["paired"] = paired_ratio(e["runs_moco"], e["runs_pytorch"])
        print(render(res))
        return

    exe = os.path.join(a.build, "bin", "moco_bench")
    if not os.access(exe, os.X_OK):
        sys.exit(f"run.py: {exe} not found. HINT: cmake --build {a.build} --target moco_bench")
    torch_py = os.path.join(HERE, "torch_step.py")
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    env = dict(os.environ)
    data = env.get("MOCO_CIFAR10_DIR", "")
    # as scripts/test.sh: the shared copy next to the checkout, or the link
    # scripts/get-cifar10.sh / run.sh make in data/
    for cand in (os.path.join(ROOT, "..", "shared", "data", "cifar-10-batches-bin"),
                 os.path.join(ROOT, "data", "cifar-10-batches-bin")):
        if not data and os.path.exists(os.path.join(cand, "data_batch_1.bin")):
            env["MOCO_CIFAR10_DIR"] = data = os.path.abspath(cand)
    rounds = 1 if a.quick else a.rounds
    threads = [int(t) for t in a.threads.split(",") if t]
    configs = [c for c in CONFIGS if not a.only or f"{c[0]}{c[1]}" in a.only.split(",")]

    started = datetime.datetime.now()
    res = {"date": started.isoformat(timespec="seconds"), "machine": machine(),
           "commit": sh(f"git -C {ROOT} rev-parse --short HEAD"),
           "dirty": bool(sh(f"git -C {ROOT} status --porcelain -uno")),
           "load_before": loadavg(), "uptime_before": sh("uptime"),
           "data": data or "synthetic", "peak": {}, "steps": [], "data_pipeline": None,
           "epoch": None, "torch_skipped": None}

    have_torch = not a.no_torch
    if have_torch:
        probe = subprocess.run([python, "-c", "import torch, torchvision"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            have_torch = False
            res["torch_skipped"] = ("python3-torch/python3-torchvision not installed "
                                    "(apt-get install -y python3-torch python3-torchvision)")
            print("PyTorch skipped: " + res["torch_skipped"], file=sys.stderr)
    elif a.no_torch:
        res["torch_skipped"] = "--no-torch"

    for t in threads:
        j, e = run_json([exe, "peak", "--threads", str(t)], env)
        res["peak"][t] = j["gflops"] if j else None
        print(f"SGEMM n=512 peak, {t} thread(s): {fmt(res['peak'][t], '.1f')} GFLOP/s",
              file=sys.stderr)

    for stem, batch in configs:
        for t in threads:
            reps = a.reps or (5 if batch <= 64 else 2)
            if a.quick:
                reps = max(1, min(reps, 2))
            ours, theirs = [], []
            rounds_here = rounds if batch <= 64 else max(1, rounds - 1)
            for r in range(rounds_here):
                common = ["--stem", stem, "--batch", str(batch), "--threads", str(t),
                          "--reps", str(reps), "--warmup", "1"]
                order = [("moco", [exe, "step"] + common)]
                if have_torch:
                    order.append(("pytorch", [python, torch_py] + common))
                if r % 2:
                    order.reverse()
                for impl, cmd in order:
                    j, e = run_json(cmd, env)
                    if not j:
                        print(f"{impl} {stem}{batch} t{t}: FAILED: {e}", file=sys.stderr)
                        continue
                    (ours if impl == "moco" else theirs).append(j)
                    print(f"  {impl:7s} {stem:8s} b{batch:<3d} t{t} round {r + 1}: "
                          f"median {j['median_s']:.3f} s, {j['images_per_s']:.1f} img/s, "
                          f"RSS {j['rss_mib']:.0f} MiB (load {loadavg()[0]:.2f})",
                          file=sys.stderr)
            entry = {"stem": stem, "batch": batch, "threads": t, "runs_moco": ours,
                     "runs_pytorch": theirs}
            for name, runs in (("moco", ours), ("pytorch", theirs)):
                if runs:
                    all_t = [x for j in runs for x in j["step_s"]]
                    med = statistics.median(all_t)
                    entry[name] = {"median_s": med, "images_per_s": batch / med,
                                   "rss_mib": max(j["rss_mib"] for j in runs),
                                   "n": len(all_t)}
            if ours:
                gf = ours[0]["gflop_per_step"]
                entry["gflop_per_step"] = gf
                entry["moco"]["gflops"] = gf / entry["moco"]["median_s"]
                entry["moco"]["startup_s"] = statistics.median(j["startup_s"] for j in ours)
                if theirs:
                    entry["pytorch"]["gflops"] = gf / entry["pytorch"]["median_s"]
            if ours and theirs:
                entry["speedup"] = entry["pytorch"]["median_s"] / entry["moco"]["median_s"]
                entry["paired"] = paired_ratio(ours, theirs)
            res["steps"].append(entry)

    if not a.only or "data" in a.only.split(","):
        j, e = run_json([exe, "data", "--images", "2048" if a.quick else "8192"], env)
        res["data_pipeline"] = j
        if j:
            print(f"  data pipeline: {j['images_per_cpu_s']:.0f} images/s per core",
                  file=sys.stderr)
        j, e = run_json([exe, "epoch", "--stem", "cifar", "--batch", "32", "--threads",
                         str(max(threads)), "--steps", "12" if a.quick else "40"], env)
        if j:
            print(f"  prefetch overlap: {j['prefetched_median_s']:.3f} vs "
                  f"{j['resident_median_s']:.3f} s/step, stalls {100 * j['stall_fraction']:.2f}%",
                  file=sys.stderr)
        res["epoch"] = j
        if not j:
            print(f"epoch: FAILED: {e}", file=sys.stderr)

    res["load_after"] = loadavg()
    res["uptime_after"] = sh("uptime")
    out = a.out or os.path.join(HERE, "results", started.strftime("%Y%m%d-%H%M") + ".json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    table = render(res)
    with open(os.path.splitext(out)[0] + ".md", "w") as f:
        f.write(table)
    print(table)
    print(f"results: {out}")


def paired_ratio(ours, theirs):
    """Median over rounds of PyTorch's round median / ours: each round's two
    processes ran back to back, so a slow spell of the machine that lasts
    one round (common on a shared machine) weighs on both sides of its
    ratio instead of on one side of the overall medians."""
    return statistics.median(statistics.median(p["step_s"]) / statistics.median(o["step_s"])
                             for o, p in zip(ours, theirs))


def render(res):
    m = res["machine"]
    lines = [f"date {res['date']}, commit {res['commit']}{' (+local changes)' if res['dirty'] else ''}, "
             f"{m['cpu']} x{m['cores']} ({m['flags']}), data: {res['data']}",
             f"load before: {res['uptime_before']}", f"load after:  {res['uptime_after']}",
             "SGEMM peak (OpenBLAS n=512): " + ", ".join(
                 f"{t} thread(s) {fmt(g, '.1f')} GFLOP/s" for t, g in res["peak"].items()), ""]
    if res.get("torch_skipped"):
        lines.append(f"PyTorch skipped: {res['torch_skipped']}")
        lines.append("")
    lines.append("| config | thr | ours s/step | ours img/s | ours GFLOP/s | ours % peak | "
                 "ours RSS MiB | PyTorch s/step | PyTorch img/s | PyTorch GFLOP/s | "
                 "PyTorch RSS MiB | ours/PyTorch (img/s) | per-round ratio |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for e in res["steps"]:
        o, p = e.get("moco"), e.get("pytorch")
        peak = res["peak"].get(e["threads"]) or res["peak"].get(str(e["threads"]))
        pct = (100 * o["gflops"] / peak) if o and peak else None
        lines.append(
            f"| {e['stem']} b{e['batch']} | {e['threads']} | {fmt(o and o['median_s'], '.3f')} | "
            f"{fmt(o and o['images_per_s'], '.1f')} | {fmt(o and o['gflops'], '.1f')} | "
            f"{fmt(pct, '.0f')}% | {fmt(o and o['rss_mib'], '.0f')} | "
            f"{fmt(p and p['median_s'], '.3f')} | {fmt(p and p['images_per_s'], '.1f')} | "
            f"{fmt(p and p['gflops'], '.1f')} | {fmt(p and p['rss_mib'], '.0f')} | "
            f"{fmt(e.get('speedup'), '.2f')}x | {fmt(e.get('paired'), '.2f')}x |")
    lines.append("")
    lines.append("Medians over all timed steps (n per cell: " + ", ".join(
        f"{e['stem']}{e['batch']}/t{e['threads']}: {e.get('moco', {}).get('n', 0)}+"
        f"{e.get('pytorch', {}).get('n', 0)}" for e in res["steps"]) + "). GFLOP/s = "
        "direct-convolution FLOPs of the step (query fwd+bwd, key fwd) / time. Per-round "
        "ratio: median over rounds of PyTorch's / ours round medians (the two processes of a "
        "round run back to back).")
    d = res.get("data_pipeline")
    if d:
        lines.append(f"Data pipeline (load + two augmented 32x32 views, one core): "
                     f"{d['images_per_cpu_s']:.0f} images/s per core "
                     f"({d['images']} images, data {res['data']}).")
    ep = res.get("epoch")
    if ep:
        lines.append(f"Prefetch overlap (cifar b32, {ep['threads']} threads, {ep['steps']} steps): "
                     f"prefetched {ep['prefetched_median_s']:.3f} s/step vs resident "
                     f"{ep['resident_median_s']:.3f} s/step (median), waited for data "
                     f"{ep['stall_s']:.3f} s = {100 * ep['stall_fraction']:.2f}% of the "
                     f"prefetched wall time; start-up to the first step "
                     f"{ep['startup_s']:.2f} s ("
                     + ("all 50,000 images loaded" if res["data"] != "synthetic" else
                        "synthetic data: includes writing its files")
                     + ").")
    starts = [e["moco"]["startup_s"] for e in res["steps"] if e.get("moco")]
    if starts:
        lines.append(f"Start-up before the first step (step mode): median "
                     f"{statistics.median(starts):.2f} s.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
