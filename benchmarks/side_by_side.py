#!/usr/bin/python3
"""Side-by-side timing of one VAE training epoch: vae (ours) vs PyTorch vs libtorch.

Every peer is a command that trains the blog's VAE (784-512-2, batch 128, Adam)
for one epoch over MNIST and prints one JSON line:
  {"name": ..., "threads": N, "samples_per_s": ..., "epoch_s": ..., "peak_rss_mb": ...,
   "encode_latency_us": ..., "final_loss": ...}

    cmake -S benchmarks/peers -B build-peers && cmake --build build-peers
    /usr/bin/python3 benchmarks/side_by_side.py --rounds 5 \
        --vae-cmd "build/benchmarks/vae_epoch --threads 2" --out /tmp/side_by_side.md

1. Calibration: the two torch peers are run --calibration-rounds times per setting (intra-op threads
   from --torch-threads, each with and without OMP_WAIT_POLICY=PASSIVE); each
   keeps its fastest setting.  `--threads N` also sizes OpenBLAS's own pool.
2. Measurement: the peers run interleaved (A B C A B C ...) for --rounds rounds.
3. Report: a markdown table per peer (median/min/max samples/s, median RSS and
   encode latency) and the per-round ratios vae/pytorch, vae/libtorch (and
   vae/gemm_bound with --gemm-cmd), printed and written to --out.

The convolutional VAE (docs/convolution.md): `--arch conv [--steps N]` trains the Keras
example's network (vae_epoch and torch_epoch.py --arch conv) at batch 128.

IWAE (docs/performance.md): `--arch iwae --k K [--steps N]` appends those flags to the
vae and PyTorch peers (and to --extra-cmd peers), which then train Burda et al.'s
784-200-200-50 tanh model with the K-sample importance-weighted bound at batch 20
on binarised MNIST; libtorch and --gemm-cmd (the blog's model only) are left out.
`--steps N` alone times N steps of the blog's VAE instead of an epoch.

    /usr/bin/python3 benchmarks/side_by_side.py --rounds 5 --arch iwae --k 5 --steps 600 \
        --vae-cmd "build/benchmarks/vae_epoch" --tune-vae --out /tmp/iwae_k5.md

--extra-cmd LABEL=CMD (repeatable) adds a peer run as given (a vae_epoch with other
flags), reported with the ratio LABEL/pytorch.  --tune-vae calibrates vae and the
extra peers over the same thread settings as the torch peers.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the peers' environment; then
OPENBLAS_CORETYPE is set for every peer alike by --openblas-coretype: auto (the default)
sets the CPU's own kernels when OpenBLAS, not knowing the CPU, falls back to older ones
(vae's programs re-execute themselves so, vae/backend/blas_kernels.hpp; this keeps the
peers on the same kernels), unset leaves OpenBLAS's choice, a name sets that name.
--before-cmd (an earlier build, to measure a change) adds a vae/vae_before ratio.
--vae-cmd, --gemm-cmd and --before-cmd run as given, in this environment otherwise (prefix
`env OMP_WAIT_POLICY=PASSIVE ...` to set something for them alone).
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
UNSET = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]
CORETYPE = {}  # {"OPENBLAS_CORETYPE": name} when --openblas-coretype sets one for every peer

# OpenBLAS's Intel kernel sets by AVX generation (as in vae/backend/blas_kernels.hpp).
PRE_AVX_CORES = {"katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington",
                 "nehalem", "atom"}


def cpu_best_core():
    """The newest of OpenBLAS's Intel kernel sets this CPU runs, from /proc/cpuinfo's flags."""
    flags = set(next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), []))
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return "Sandybridge" if "avx" in flags else ""


def is_fallback(core, best):
    """OpenBLAS fell back to a pre-AVX set (or Sandybridge) on a CPU that runs newer kernels."""
    rank = {"sandybridge": 1, "haswell": 2, "skylakex": 3}
    have = 0 if core.lower() in PRE_AVX_CORES else rank.get(core.lower(), -1)
    return 0 <= have <= 1 and rank.get(best.lower(), -1) > have

BLAS_PROBE = r"""
import ctypes, torch
print("torch", torch.__version__, "| intra-op threads by default:", torch.get_num_threads())
for line in torch.__config__.show().splitlines():
    if "BLAS" in line or "CPU capability" in line:
        for part in line.split(","):
            if "BLAS_INFO" in part or "LAPACK_INFO" in part or "CPU capability" in part:
                print(part.strip(" -"))
for line in torch.__config__.parallel_info().splitlines():
    if "backend" in line or "hardware_concurrency" in line:
        print(line.strip())
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.split()[-1]})
print("BLAS libraries mapped:", ", ".join(libs))
try:
    lib = ctypes.CDLL([l for l in libs if "openblas" in l][0])
    lib.openblas_get_corename.restype = lib.openblas_get_config.restype = ctypes.c_char_p
    print("OpenBLAS kernel:", lib.openblas_get_corename().decode(), "| threads by default:",
          lib.openblas_get_num_threads(), "|", lib.openblas_get_config().decode())
except (IndexError, OSError, AttributeError):
    print("OpenBLAS not loaded by torch")
try:
    import threadpoolctl
    for p in threadpoolctl.threadpool_info():
        print("threadpoolctl:", p.get("internal_api"), p.get("architecture"), p.get("num_threads"))
except ImportError:
    print("threadpoolctl: not installed")
"""


def base_env():
    env = dict(os.environ)
    for name in UNSET:
        env.pop(name, None)
    env.update(CORETYPE)
    return env


def run_peer(peer, setting=None, timeout=900, calibrating=False):
    """Run a peer once (with (threads, passive) for torch peers); return its JSON record
    (None when a calibration run times out)."""
    cmd, env = list(peer["cmd"]), base_env()
    if setting is not None:
        threads, passive, blas = setting
        cmd += ["--threads", str(threads)]
        if blas is not None and peer["label"] == "pytorch":
            cmd += ["--blas-threads", str(blas)]
        env.pop("OMP_WAIT_POLICY", None)
        if passive:
            env["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        if calibrating:
            return None
        raise
    records = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not records:
        sys.exit(f"peer {peer['label']} failed (rc {proc.returncode}): {shlex.join(cmd)}\n"
                 f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    rec = json.loads(records[-1])
    if rec.get("name") != peer["label"] and peer["label"] != "vae_before" and not peer.get("extra"):
        print(f"  note: peer {peer['label']} reports name {rec.get('name')!r}", file=sys.stderr)
    return rec


def describe(setting):
    if setting is None:
        return "default"
    blas = "" if setting[2] is None else f" blas={setting[2]}"
    return f"threads={setting[0]}{blas}" + (" PASSIVE" if setting[1] else "")


def fmt(x, digits=1):
    return "-" if x is None else f"{x:,.{digits}f}"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--vae-cmd", help="our C++ peer (JSON name 'vae'), run as given")
    p.add_argument("--torch-cmd", default=f"{PYTHON} benchmarks/peers/torch_epoch.py",
                   help="PyTorch peer; --threads N is appended ('' to skip)")
    p.add_argument("--libtorch-cmd", default="build-peers/libtorch_epoch",
                   help="libtorch peer; --threads N is appended ('' to skip)")
    p.add_argument("--gemm-cmd", help="optional sgemm-only bound (JSON name 'gemm_bound'), run as given")
    p.add_argument("--before-cmd", help="optional earlier build of our peer (a vae_epoch from another commit), "
                   "run as given; reported as 'vae_before' with the ratio vae/vae_before")
    p.add_argument("--torch-threads", type=int, nargs="+", default=[1, 2],
                   help="intra-op thread counts to calibrate the torch peers over")
    p.add_argument("--torch-blas-threads", type=int, nargs="+", default=None,
                   help="OpenBLAS thread counts to calibrate the PyTorch peer over as well (torch_epoch.py "
                        "--blas-threads; default: as many as its intra-op threads). Debian's torch computes its "
                        "matrix products, its CPU convolutions among them, in OpenBLAS, whose own pool "
                        "torch.set_num_threads does not size")
    p.add_argument("--wait-policy", choices=["both", "passive", "default"], default="both",
                   help="calibrate with and/or without OMP_WAIT_POLICY=PASSIVE")
    p.add_argument("--calibration-rounds", type=int, default=1,
                   help="epochs per calibration setting (their median decides)")
    p.add_argument("--arch", choices=["blog", "iwae", "conv"], default="blog",
                   help="iwae: append --arch iwae --k K to the vae, PyTorch and extra peers; conv: --arch conv "
                        "(the Keras example's convolutional VAE, docs/convolution.md)")
    p.add_argument("--k", type=int, default=1, help="IWAE samples per input (with --arch iwae)")
    p.add_argument("--steps", type=int, default=0,
                   help="time this many training steps instead of one epoch (appended as --steps N)")
    p.add_argument("--extra-cmd", action="append", default=[], metavar="LABEL=CMD",
                   help="another peer printing vae_epoch's JSON, run as given (repeatable)")
    p.add_argument("--tune-vae", action="store_true",
                   help="calibrate vae and the extra peers over the thread settings too")
    p.add_argument("--openblas-coretype", default="auto", metavar="auto|unset|NAME",
                   help="OPENBLAS_CORETYPE for every peer (see above)")
    p.add_argument("--out", help="also write the markdown report here")
    args = p.parse_args()
    if args.k < 1 or (args.arch == "blog" and args.k != 1):
        p.error("--k must be >= 1 (and 1 for --arch blog)")
    work = []  # flags that choose the work, appended to the peers that take them
    if args.arch == "iwae":
        work += ["--arch", "iwae", "--k", str(args.k)]
    if args.arch == "conv":
        work += ["--arch", "conv"]
    if args.steps:
        work += ["--steps", str(args.steps)]
    if args.arch == "iwae" and (args.gemm_cmd or args.before_cmd):
        p.error("--gemm-cmd and --before-cmd time the blog's or the convolutional model: not with --arch iwae")
    gemm_work = ["--arch", "conv"] if args.arch == "conv" else []  # gemm_bound times its own steps

    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    default_libtorch = p.get_default("libtorch_cmd")
    if args.libtorch_cmd == default_libtorch and not os.path.exists(os.path.join(ROOT, default_libtorch)):
        print(f"note: {default_libtorch} is not built, skipping libtorch "
              "(cmake -S benchmarks/peers -B build-peers && cmake --build build-peers)", file=sys.stderr)
        args.libtorch_cmd = ""
    if work and args.libtorch_cmd:
        print("note: the libtorch peer trains the blog's epoch only, skipping it", file=sys.stderr)
        args.libtorch_cmd = ""
    extras = []
    for item in args.extra_cmd:
        label, sep, cmd = item.partition("=")
        if not sep or not label or not cmd or label in ("vae", "pytorch", "libtorch", "gemm_bound", "vae_before"):
            p.error(f"--extra-cmd expects LABEL=CMD with a new label, got {item!r}")
        extras.append((label, cmd))
    peers = []
    for label, cmd, tuned, takes_work, extra in (
            [("vae", args.vae_cmd, args.tune_vae, True, False), ("pytorch", args.torch_cmd, True, True, False),
             ("libtorch", args.libtorch_cmd, True, False, False), ("gemm_bound", args.gemm_cmd, False, "gemm", False),
             ("vae_before", args.before_cmd, False, True, False)] +
            [(label, cmd, args.tune_vae, True, True) for label, cmd in extras]):
        if cmd:
            flags = gemm_work if takes_work == "gemm" else work if takes_work else []
            peers.append(dict(label=label, cmd=shlex.split(cmd) + flags, tuned=tuned,
                              setting=None, runs=[], extra=extra))
    if not peers:
        sys.exit("no peers to run")

    what = {"blog": "VAE epoch", "conv": "Convolutional VAE training"}.get(args.arch, f"IWAE (k = {args.k}) training")
    say(f"# {what} side by side ({datetime.datetime.now():%Y-%m-%d %H:%M})")
    say()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    say(f"- host: {cpu}, {os.cpu_count()} CPUs, {platform.platform()}")
    was_set = [f"{n}={os.environ[n]}" for n in UNSET if n in os.environ]
    say(f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other processes on this host skew the timings)")
    say(f"- unset for the peers: {', '.join(UNSET)} (were set here: {', '.join(was_set) or 'none'})")
    probe = subprocess.run([PYTHON, "-c", BLAS_PROBE], env=base_env(), capture_output=True, text=True)
    for line in (probe.stdout or probe.stderr).strip().splitlines():
        say(f"- {line}")
    if args.openblas_coretype == "auto":
        core = next((l.split(":", 1)[1].split("|")[0].strip() for l in probe.stdout.splitlines()
                     if l.startswith("OpenBLAS kernel:")), "")
        best = cpu_best_core()
        if is_fallback(core, best):
            CORETYPE["OPENBLAS_CORETYPE"] = best
            say(f"- OpenBLAS fell back to its {core} kernels on this CPU, which runs {best}: "
                f"OPENBLAS_CORETYPE={best} for every peer")
        else:
            say(f"- OPENBLAS_CORETYPE left unset for every peer (OpenBLAS chose {core or 'no'} kernels itself)")
    elif args.openblas_coretype != "unset":
        CORETYPE["OPENBLAS_CORETYPE"] = args.openblas_coretype
        say(f"- OPENBLAS_CORETYPE={args.openblas_coretype} for every peer (--openblas-coretype)")
    else:
        say("- OPENBLAS_CORETYPE unset for every peer (--openblas-coretype unset)")
    for peer in peers:
        say(f"- {peer['label']}: `{shlex.join(peer['cmd'])}`")

    settings = [(t, passive, b) for t in args.torch_threads for b in (args.torch_blas_threads or [None])
                for passive in {"both": [False, True], "passive": [True], "default": [False]}[args.wait_policy]]
    tuned = [peer for peer in peers if peer["tuned"]]
    if tuned and len(settings) == 1:
        for peer in tuned:
            peer["setting"] = settings[0]
    elif tuned:
        say()
        say(f"## Calibration (median of {args.calibration_rounds} epoch(s) per setting, samples/s)")
        say()
        say("| peer | " + " | ".join(describe(s) for s in settings) + " |")
        say("|---|" + "---:|" * len(settings))
        for peer in tuned:
            speeds, best_s = [], None
            for s in settings:
                runs = []
                for _ in range(args.calibration_rounds):
                    # An oversubscribed setting can be 20x slower: stop it at 5x the best so far.
                    rec = run_peer(peer, s, timeout=30 + 5 * best_s if best_s else 900, calibrating=True)
                    if rec is None:
                        break
                    runs.append(rec["samples_per_s"])
                    best_s = min(best_s or rec["epoch_s"], rec["epoch_s"])
                speeds.append(statistics.median(runs) if runs else None)
            best = max(v for v in speeds if v is not None)
            peer["setting"] = settings[speeds.index(best)]
            say(f"| {peer['label']} | " + " | ".join(fmt(v, 0) if v else "timed out" for v in speeds) + " |")
        say()
        say("Chosen: " + ", ".join(f"{peer['label']} {describe(peer['setting'])}" for peer in tuned))

    for r in range(args.rounds):
        for peer in peers:
            rec = run_peer(peer, peer["setting"])
            peer["runs"].append(rec)
            print(f"  round {r + 1}: {peer['label']:10s} {rec['samples_per_s']:10,.0f} samples/s", flush=True)

    say()
    span = f"{args.steps} steps" if args.steps else "one epoch of 60,000 images"
    say(f"## Results ({args.rounds} interleaved rounds, {span} each)")
    say()
    say("| peer | setting | samples/s (median) | min | max | epoch s | peak RSS MiB | encode latency us | final loss |")
    say("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for peer in peers:
        runs = peer["runs"]
        sps = [x["samples_per_s"] for x in runs]
        say(f"| {peer['label']} | {describe(peer['setting']) if peer['tuned'] else 'as given'} | "
            f"{fmt(med(sps), 0)} | {fmt(min(sps), 0)} | {fmt(max(sps), 0)} | "
            f"{fmt(med([x.get('epoch_s') for x in runs]), 3)} | {fmt(med([x.get('peak_rss_mb') for x in runs]))} | "
            f"{fmt(med([x.get('encode_latency_us') for x in runs]), 2)} | "
            f"{fmt(med([x.get('final_loss') for x in runs]), 3)} |")

    say()
    say(f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    by = {peer["label"]: peer for peer in peers}
    others = [o for o in ("pytorch", "libtorch", "gemm_bound", "vae_before") if o in by]
    pairs = [("vae", o) for o in others] if "vae" in by else []
    pairs += [(peer["label"], "pytorch") for peer in peers if peer["extra"] and "pytorch" in by]
    if pairs:
        say()
        say("## Throughput ratios per round (" + ("samples/s" if len(pairs) > len(others) else "vae samples/s") +
            " over the peer's, same round)")
        say()
        say("| round | " + " | ".join(f"{a}/{o}" for a, o in pairs) + " |")
        say("|---|" + "---:|" * len(pairs))
        ratios = {(a, o): [v["samples_per_s"] / x["samples_per_s"] for v, x in zip(by[a]["runs"], by[o]["runs"])]
                  for a, o in pairs}
        for r in range(args.rounds):
            say(f"| {r + 1} | " + " | ".join(f"{ratios[q][r]:.3f}" for q in pairs) + " |")
        say("| **median** | " + " | ".join(f"**{statistics.median(ratios[q]):.3f}**" for q in pairs) + " |")
        ratios = {o: ratios[(a, o)] for a, o in pairs if a == "vae"}
        if "gemm_bound" in ratios:
            say()
            say(f"vae reaches {100 * statistics.median(ratios['gemm_bound']):.1f}% of the sgemm-only bound (median).")

    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
