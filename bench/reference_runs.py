"""Reference runs (issue 27): what this code learns in an hour of a CPU, against rosinality's PyTorch
StyleGAN 2 on the same data, settings, threads and machine, by FID of the EMA generator vs wall clock.

Each run trains for ``--minutes`` of wall time with a checkpoint every ``--ckpt_minutes`` (train.py's
``--minutes`` / ``--ckpt_minutes``; the PyTorch worker keeps the same clock), and is scored afterwards, so
evaluation does not eat the training time: FID and KID against a fixed subset of ``--reals`` images of the
set (its Inception features cached), ``--final_fakes`` generated images at the end of the run and
``--fakes`` at the intermediate checkpoints. A run that was stopped resumes from its last checkpoint.

    .venv/bin/python bench/reference_runs.py --runs fashion-mnist-stylegan2,fashion-mnist-stylegan2-torch --parallel 2
    .venv/bin/python bench/reference_runs.py --runs sweep --minutes 10 --parallel 2 --final_fakes 1000
    .venv/bin/python bench/reference_runs.py --runs fashion-mnist-stylegan2-cond --threads 1   # conditional
    .venv/bin/python bench/reference_runs.py --runs fewshot50 --parallel 2 --fakes 500 --final_fakes 500 --reals 5000
    .venv/bin/python bench/reference_runs.py --report_only             # the tables and plots of what is scored

The few-shot groups (``FEWSHOT``) train for a fixed number of iterations instead, so that machine load changes
their wall time, not their result; they are scored against the whole set they were drawn from. Work files (LMDBs,
runs, logs) go to bench/reference/ (git-ignored); the plots to bench/reference_fid.png and bench/<group>_fid.png.
"""
import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, "reference")
PLOT = os.path.join(HERE, "reference_fid.png")
SIZE = 32
# ADA where D overfits (issue 27), as data: a group of StyleGAN 2 runs at FEWSHOT_SIZE px on the first ``images``
# Fashion-MNIST images, each of ``augs`` with 2 seeds, for ``iterations`` (a checkpoint every ``every``, FID at every
# ``scored_every``: Inception takes 0.1-0.5 s per image on this CPU). "fewshot": 240 epochs of 200 images, where D
# did not overfit; "fewshot50": 2,560 epochs of 50 images, ADA against none only (the CPU time of one session).
Fewshot = collections.namedtuple("Fewshot", "images iterations every scored_every augs")
FEWSHOT_AUGS = ("none", "ada", "diffaugment")
FEWSHOT = {"fewshot": Fewshot(200, 3000, 500, 1000, FEWSHOT_AUGS),
           "fewshot50": Fewshot(50, 8000, 500, 2000, FEWSHOT_AUGS[:2])}
FEWSHOT_SIZE = 16
# The data sets: prepare_data.py's options (32 px; Fashion-MNIST grey, every usable emoji glyph in colour; the
# few-shot sets: the first images of Fashion-MNIST).
DATA = {"fashion-mnist": ["--builtin", "fashion-mnist", "--channels", "1"],
        "emoji": ["--builtin", "emoji", "--channels", "3"]}
DATA.update({f"fashion-mnist-{f.images}": ["--builtin", "fashion-mnist", "--channels", "1", "--limit", str(f.images)]
             for f in FEWSHOT.values()})
# The set a run's FID is measured against, where it is not the one it trains on: the whole set a subset came from.
REALS_OF = {f"fashion-mnist-{f.images}": "fashion-mnist" for f in FEWSHOT.values()}
# StyleGAN 2 at the cpu-demo widths with R1's gamma and the EMA half-life as NVIDIA's `auto` config derives
# them at 32 px for batch 16 (gamma = 0.0002 * 32^2 / 16; EMA half-life batch * 10 / 32 kimg).
CPU_DEMO = ["--arch", "stylegan2", "--preset", "cpu-demo", "--mixing"]
AUTO = ["--r1", "0.0128", "--ema_decay", f"{0.5 ** (16 / 5000):.8f}"]
SG2 = CPU_DEMO + AUTO
SG1 = ["--arch", "stylegan1", "--preset", "cpu-demo", "--mixing", "--loss", "r1", "--phase", "100000"]
# name: (implementation, data set, train.py options)
RUNS = {"fashion-mnist-stylegan2": ("jittor", "fashion-mnist", SG2),
        "fashion-mnist-stylegan2-torch": ("torch", "fashion-mnist", SG2),
        "emoji-stylegan2": ("jittor", "emoji", SG2),
        "fashion-mnist-stylegan1": ("jittor", "fashion-mnist", SG1),
        "fashion-mnist-stylegan2-cond": ("jittor", "fashion-mnist", SG2 + ["--cond", "1"])}
# The sweep behind the CPU defaults: short Fashion-MNIST StyleGAN 2 runs (--minutes 10), each the cpu-demo
# preset with the options shown; run two at a time so that each pair shares the machine's load.
SWEEP = {"cpu-demo": [],
         "r1-auto": AUTO[:2],
         "r1-auto-ema": AUTO,
         "r1-auto-ema-no-pl": AUTO + ["--path_regularize", "0"],
         "r1-auto-ema-batch32": ["--r1", "0.0064", "--ema_decay", f"{0.5 ** (32 / 10000):.8f}", "--batch", "32"],
         "r1-auto-ema-map2": AUTO + ["--n_mlp", "2"]}
RUNS.update({f"sweep-{label}": ("jittor", "fashion-mnist", CPU_DEMO + options) for label, options in SWEEP.items()})
# ADA moves p by 1 in 5,000 images (a tenth of the 200-image runs), as NVIDIA's 500 kimg is of its runs.
RUNS.update({f"{group}-{aug}-seed{seed}": ("jittor", f"fashion-mnist-{f.images}",
                                           SG2 + ["--max_size", str(FEWSHOT_SIZE), "--aug", aug, "--ada_kimg", "5",
                                                  "--seed", str(seed)])
             for group, f in FEWSHOT.items() for seed in (0, 1) for aug in f.augs})

CONDITIONAL = "fashion-mnist-stylegan2-cond"
GROUPS = {"reference": [n for n in RUNS if not n.startswith(("sweep-", "fewshot", CONDITIONAL))],
          "sweep": [n for n in RUNS if n.startswith("sweep-")]}
GROUPS.update({group: [n for n in RUNS if n.startswith(group + "-")] for group in FEWSHOT})


def fewshot_of(name):
    """(group, its Fewshot settings) of a few-shot run, else (None, None)."""
    group = name.split("-", 1)[0]
    return (group, FEWSHOT[group]) if group in FEWSHOT else (None, None)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="reference", help=f"comma-separated, from {', '.join(RUNS)}; or the groups "
                        f"{', '.join(GROUPS)} (reference: the first four)")
    parser.add_argument("--minutes", type=float, default=60, help="wall-clock training budget of each run")
    parser.add_argument("--ckpt_minutes", type=float, default=10)
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time (threads each: cores / parallel)")
    parser.add_argument("--reals", type=int, default=10_000, help="real images of the statistics (the first N)")
    parser.add_argument("--fakes", type=int, default=1000, help="generated images at intermediate checkpoints (0: score the final one only)")
    parser.add_argument("--final_fakes", type=int, default=5000, help="generated images at the end of a run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train_only", action="store_true")
    parser.add_argument("--report_only", action="store_true")
    parser.add_argument("--worker", metavar="RUN", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help="threads of each run (default: cores / parallel)")
    args = parser.parse_args(argv)
    args.runs = [n for r in args.runs.split(",") if r for n in GROUPS.get(r, [r])]
    unknown = sorted(set(args.runs) - set(RUNS))
    if unknown:
        parser.error(f"unknown runs {unknown}; choose from {', '.join(RUNS)}")
    return args


def data_path(name):
    return os.path.join(WORK, "data", name)


def prepare(name):
    if not os.path.isfile(os.path.join(data_path(name), "data.mdb")):
        subprocess.run([sys.executable, os.path.join(REPO, "prepare_data.py"), "--out", data_path(name),
                        "--max_size", str(SIZE), "--force"] + DATA[name], check=True)


def run_dir(name):
    return os.path.join(WORK, name)


def checkpoints(name):
    """[(iteration, path)] of a run's checkpoints, oldest first."""
    found = glob.glob(os.path.join(run_dir(name), "checkpoint", "*.npz")) + \
        glob.glob(os.path.join(run_dir(name), "checkpoint", "*.pt"))
    return sorted((int(os.path.basename(f).split(".")[0]), f) for f in found)


def jittor_command(args, name):
    """train.py as a user types it; resumed from the last checkpoint when there is one."""
    _, data, options = RUNS[name]
    clock = ["--minutes", str(args.minutes), "--ckpt_minutes", str(args.ckpt_minutes), "--iterations", "10000000",
             "--ckpt_every", "10000000", "--keep", "1000", "--no_progress"]
    _, fewshot = fewshot_of(name)
    if fewshot:
        clock = ["--iterations", str(fewshot.iterations), "--ckpt_every", str(fewshot.every), "--keep", "1000",
                 "--no_progress"]
    done = checkpoints(name)
    if done:
        return [sys.executable, os.path.join(REPO, "train.py"), "--ckpt", done[-1][1]] + clock
    return ([sys.executable, os.path.join(REPO, "train.py"), data_path(data), "--seed", str(args.seed),
             "--run_dir", run_dir(name)] + options + clock)


def torch_settings(options):
    """The settings of a run's train.py options as the PyTorch worker needs them (one source: the preset's
    values under the options given)."""
    from jittor_stylegan.training.settings import FAMILIES
    pairs = [o for o in options if o != "--mixing"]  # (the one flag without a value)
    given = dict(zip(pairs[::2], pairs[1::2]))
    family = FAMILIES[given["--arch"]]
    cfg = dict(family.defaults, **family.presets[given["--preset"]])
    for key in ("r1", "ema_decay", "lr", "batch_default"):
        if f"--{key}" in given:
            cfg[key] = float(given[f"--{key}"]) if key != "batch_default" else int(given[f"--{key}"])
    return cfg


def torch_worker(args, name):
    """rosinality's iteration (bench/torch_stylegan2.py) with the run's settings, on the data in the order
    train.py reads them, on the same clock as train.py's --minutes / --ckpt_minutes; each checkpoint holds
    what resuming needs and g_ema under rosinality's key."""
    import torch
    import torch_stylegan2 as tsg2
    from jittor_stylegan.data import BatchSampler, MultiResolutionDataset

    torch.set_num_threads(args.threads)
    _, data, options = RUNS[name]
    cfg = torch_settings(options)
    dataset = MultiResolutionDataset(data_path(data))
    image_channels = dataset.channels()
    torch.manual_seed(args.seed)
    channels = {s: min(w, cfg["max_channels"]) for s, w in tsg2.channel_table(cfg["channel_multiplier"]).items()
                if s <= SIZE}
    G, D, g_ema, g_optim, d_optim = tsg2.make_training(SIZE, cfg["code_size"], cfg["n_mlp"], channels=channels,
                                                       lr=cfg["lr"], image_channels=image_channels)
    batch = cfg["batch_default"]
    state = {"iteration": 0, "seconds": 0.0, "mean_path_length": 0.0, "sampler": {"epoch": 0, "position": 0}}
    done = checkpoints(name)
    if done:
        saved = torch.load(done[-1][1], weights_only=True)
        for key, obj in (("g", G), ("d", D), ("g_ema", g_ema), ("g_optim", g_optim), ("d_optim", d_optim)):
            obj.load_state_dict(saved[key])
        state = json.loads(saved["state"])
    sampler = BatchSampler(len(dataset), batch, args.seed, SIZE, **state["sampler"])
    folder = os.path.join(run_dir(name), "checkpoint")
    os.makedirs(folder, exist_ok=True)

    def save():
        state["sampler"] = sampler.state()
        path = os.path.join(folder, f"{state['iteration']:06d}.pt")
        torch.save({"g": G.state_dict(), "d": D.state_dict(), "g_ema": g_ema.state_dict(),
                    "g_optim": g_optim.state_dict(), "d_optim": d_optim.state_dict(), "state": json.dumps(state)},
                   path + ".tmp")
        os.replace(path + ".tmp", path)

    every = args.ckpt_minutes * 60
    next_mark = (int(state["seconds"] // every) + 1) * every
    clock = time.time() - state["seconds"]
    with open(os.path.join(run_dir(name), "seconds.csv"), "a") as log:
        while state["seconds"] < args.minutes * 60:
            i = state["iteration"]
            indices, flips = sampler.next()
            real = torch.from_numpy(dataset.batch(SIZE, indices, flips).astype(np.float32))
            inputs = tsg2.iteration_inputs(np.random.default_rng([args.seed, i]), i, batch, cfg["code_size"], SIZE,
                                           image_channels=image_channels)
            start = time.time()
            _, mean_path_length = tsg2.train_iteration(G, D, g_ema, g_optim, d_optim, i, real, inputs,
                                                                state["mean_path_length"], ema_decay=cfg["ema_decay"],
                                                                r1=cfg["r1"])
            state["mean_path_length"] = float(mean_path_length)
            log.write(f"{i},{time.time() - start:.4f}\n")
            state["iteration"] += 1
            state["seconds"] = time.time() - clock
            if state["seconds"] >= next_mark:
                save()
                next_mark = (int(state["seconds"] // every) + 1) * every
        if not checkpoints(name) or checkpoints(name)[-1][0] != state["iteration"]:
            save()


def train_all(args):
    """Train every run not yet done, ``--parallel`` at a time, each with cores / parallel threads."""
    threads = args.threads or max(1, (os.cpu_count() or 2) // args.parallel)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    pending = [n for n in args.runs if not os.path.exists(os.path.join(run_dir(n), "done"))]
    active = []
    while pending or active:
        while pending and len(active) < args.parallel:
            name = pending.pop(0)
            os.makedirs(run_dir(name), exist_ok=True)
            command = (jittor_command(args, name) if RUNS[name][0] == "jittor" else
                       [sys.executable, __file__, "--worker", name, "--threads", str(threads), "--minutes",
                        str(args.minutes), "--ckpt_minutes", str(args.ckpt_minutes), "--seed", str(args.seed)])
            log = open(os.path.join(WORK, name + ".log"), "a")
            budget = (f"{fewshot_of(name)[1].iterations:,} iterations" if fewshot_of(name)[0] else
                      f"{args.minutes:g} minutes")
            print(f"reference_runs: training {name} for {budget} ({threads} threads; load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
            active.append((name, subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log,
                           os.getloadavg()[0]))
        time.sleep(5)
        for item in list(active):
            name, process, log, load = item
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                log.close()
                active.remove(item)
                if status:
                    sys.exit(f"reference_runs: {name} failed; see {os.path.join(WORK, name + '.log')}")
                with open(os.path.join(run_dir(name), "done"), "w") as f:
                    json.dump({"threads": threads, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                               "load_average": [load, os.getloadavg()[0]]}, f)


def run_size(name):
    """The image size a run trains at."""
    return FEWSHOT_SIZE if fewshot_of(name)[0] else SIZE


def checkpoint_seconds(path):
    """Wall-clock seconds of training when the checkpoint was written."""
    if path.endswith(".pt"):
        import torch
        return json.loads(torch.load(path, weights_only=True)["state"])["seconds"]
    from jittor_stylegan.formats import checkpoint
    return checkpoint.read_meta(path)["progress"]["seconds"]


def discriminator_scores(name, ckpt, images=48, batch=16, draws=4):
    """ADA's overfitting signs (NVIDIA's ADA paper, Fig. 1): D's mean raw score and mean sign on ``images`` of the
    few-shot run's training images and on as many held-out images of the same set (the next ones after them),
    unaugmented, so that a gap between the two shows D memorising its training set; and where the run's p is
    above 0, the mean sign on its training images augmented at that p (``draws`` times): ADA's statistic."""
    from jittor_stylegan import families, formats  # (first: it prepares Jittor's environment)
    from jittor_stylegan.data import MultiResolutionDataset
    from jittor_stylegan.training.ada import Rows
    from jittor_stylegan.training.augment import augment_pipe
    import jittor as jt

    contents = formats.read(ckpt)
    D = contents.build(families.networks(contents.arch).KEYS["discriminator"])
    meta = contents.training[0]
    p, pipe = meta["progress"].get("augment_p", 0.0), augment_pipe(meta["config"]["augpipe"])
    dataset = MultiResolutionDataset(data_path(REALS_OF[RUNS[name][1]]))
    first = fewshot_of(name)[1].images
    parts = [("train", 0, None), ("heldout", first, None)] + [("train_aug", 0, d) for d in range(draws) if p > 0]
    scores = collections.defaultdict(list)
    for part, start, draw in parts:
        for b in range(start, start + images, batch):
            x = jt.array(dataset.batch(FEWSHOT_SIZE, range(b, b + batch), [False] * batch))
            if draw is not None:
                x = pipe(x, p, Rows(np.random.default_rng([draw, b]), batch, slice(None)))
            with jt.no_grad():
                scores[part].append(D(x).numpy().ravel())
    result = {}
    for part, values in scores.items():
        values = np.concatenate(values)
        result[f"d_{part}"], result[f"sign_{part}"] = float(values.mean()), float(np.sign(values).mean())
    return result


def score_all(args):
    """FID and KID of every checkpoint of every run (cached in the run's scores.json)."""
    from jittor_stylegan import loading
    from jittor_stylegan.metrics import scoring
    from jittor_stylegan.metrics.inception import InceptionV3

    model = InceptionV3()
    for name in args.runs:
        done = checkpoints(name)
        if not done:
            continue
        path = os.path.join(run_dir(name), "scores.json")
        scores = json.load(open(path)) if os.path.exists(path) else {}
        _, fewshot = fewshot_of(name)
        for iteration, ckpt in done:
            final = os.path.exists(os.path.join(run_dir(name), "done")) and iteration == done[-1][0]
            fakes = args.final_fakes if final else args.fakes
            if not fakes:
                continue
            if fewshot and iteration % fewshot.scored_every:
                continue
            key = os.path.basename(ckpt)
            if fewshot and key in scores and "d_train" not in scores[key]:
                scores[key].update(discriminator_scores(name, ckpt))
                with open(path, "w") as f:
                    json.dump(scores, f, indent=1)
            if key in scores and scores[key]["fakes"] == fakes:
                continue
            size = run_size(name)
            sampler = loading.sampler_for_size(ckpt, size)
            real = scoring.DatasetImages(data_path(REALS_OF.get(RUNS[name][1], RUNS[name][1])), size, args.reals,
                                         channels=sampler.channels)
            fake = scoring.GeneratedImages(sampler, fakes, seed=123)
            result = scoring.evaluate(["fid", "kid"], real, fake, model=model, show_progress=False)
            scores[key] = dict(result, iteration=iteration, seconds=checkpoint_seconds(ckpt), fakes=fakes,
                               reals=args.reals, **(discriminator_scores(name, ckpt) if fewshot else {}))
            print(f"reference_runs: {name} {key} ({scores[key]['seconds'] / 60:.1f} min): FID {result['fid']:.2f} "
                  f"({fakes} fakes)", flush=True)
            with open(path, "w") as f:
                json.dump(scores, f, indent=1)


def throughput(name):
    """(images per second over the run, iterations, images seen) from its last checkpoint."""
    done = checkpoints(name)
    if not done:
        return None
    iteration, path = done[-1]
    seconds = checkpoint_seconds(path)
    if RUNS[name][0] == "torch":
        images = iteration * torch_settings(RUNS[name][2])["batch_default"]
    else:
        from jittor_stylegan.formats import checkpoint
        images = checkpoint.read_meta(path)["progress"]["images_seen"]
    return images / seconds, iteration, images


def time_to_reach(rows, target):
    """Minutes a run's (minutes, FID) curve first reaches ``target`` (linear between checkpoints), or None."""
    for (m0, f0), (m1, f1) in zip(rows, rows[1:]):
        if f1 <= target:
            return m0 + (m1 - m0) * (f0 - target) / (f0 - f1) if f0 > target else m0
    return None


def cpu_minutes(name):
    """CPU minutes the run's process used (recorded when the driver saw it end), or None."""
    try:
        return json.load(open(os.path.join(run_dir(name), "done")))["cpu_seconds"] / 60
    except (OSError, ValueError, KeyError, TypeError):
        return None


def report(args):
    """The tables and plots of what is scored: reference runs, sweep, few-shot ADA, conditional."""
    scored = {}
    for name in args.runs:
        path = os.path.join(run_dir(name), "scores.json")
        if os.path.exists(path):
            scored[name] = sorted(json.load(open(path)).values(), key=lambda s: s["seconds"])
    report_reference(args, {n: s for n, s in scored.items() if n in GROUPS["reference"] + [CONDITIONAL]})
    report_sweep({n: s for n, s in scored.items() if n in GROUPS["sweep"]})
    for group in FEWSHOT:
        report_fewshot(args, group, {n: s for n, s in scored.items() if n in GROUPS[group]})


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def report_reference(args, scored):
    """The reference-run table (FID at each wall-clock mark), PyTorch's time ratio and the FID-vs-time plot."""
    if not scored:
        return
    curves = {name: [(s["seconds"] / 60, s["fid"]) for s in scores] for name, scores in scored.items()}
    marks = sorted({round(s["seconds"] / 60) for n in scored for s in scored[n]})
    header = ["run", "data"] + [f"FID @{m} min" for m in marks] + ["KID x1e3 (end)", "img/s", "iterations",
                                                                    "images seen", "CPU min"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in scored:
        by_mark = {round(s["seconds"] / 60): s for s in scored[name]}
        speed, iterations, images = throughput(name)
        cells = [f"{by_mark[m]['fid']:.1f}" + (f" ({by_mark[m]['fakes']:,})" if by_mark[m]["fakes"] != args.fakes
                                                else "") if m in by_mark else "-" for m in marks]
        cpu = cpu_minutes(name)
        lines.append(f"| {name} | {RUNS[name][1]} | " + " | ".join(cells) + f" | {scored[name][-1]['kid'] * 1e3:.2f} "
                     f"| {speed:.1f} | {iterations:,} | {images:,} | {f'{cpu:.0f}' if cpu else '-'} |")
    print("\n".join(lines))
    for name in scored:
        if RUNS[name][0] == "torch" and name.replace("-torch", "") in curves:
            ours, theirs = curves[name.replace("-torch", "")], curves[name]
            target = theirs[-1][1]
            reach = time_to_reach(ours, target)
            print(f"\n{name}: FID {target:.1f} after {theirs[-1][0]:.0f} min; ours reaches it after "
                  + (f"{reach:.1f} min ({theirs[-1][0] / reach:.1f}x less time)" if reach else "- (not reached)"))
    plotted = [n for n in scored if n in GROUPS["reference"]]
    if not plotted:
        return
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name in plotted:
        rows = curves[name]
        ax.plot([m for m, _ in rows], [f for _, f in rows], marker="o", linestyle="--" if "torch" in name else "-",
                label=name.replace("-torch", ": PyTorch (rosinality)") if "torch" in name else f"{name}: Jittor (ours)")
    ax.set_xlabel("wall-clock minutes of training")
    ax.set_ylabel(f"FID ({args.reals:,} real; {args.fakes:,} / {args.final_fakes:,} generated)")
    ax.set_yscale("log")
    ax.set_title(f"{SIZE} px on a 2-core CPU (runs {'side by side, one thread each' if args.parallel > 1 else 'alone'})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)
    print(f"wrote {PLOT}")


def report_sweep(scored):
    """The sweep table behind the CPU defaults."""
    if not scored:
        return
    print("\n| sweep run | options over `--preset cpu-demo --mixing` | FID (end) | KID x1e3 | img/s | iterations | "
          "CPU min |\n|---|---|---|---|---|---|---|")
    for name in scored:
        speed, iterations, _ = throughput(name)
        cpu = cpu_minutes(name)
        options = " ".join(RUNS[name][2][len(CPU_DEMO):]) or "-"
        print(f"| {name[6:]} | `{options}` | {scored[name][-1]['fid']:.1f} ({scored[name][-1]['fakes']:,}) | "
              f"{scored[name][-1]['kid'] * 1e3:.2f} | {speed:.1f} | {iterations:,} | {f'{cpu:.1f}' if cpu else '-'} |")


def final_augment_p(name):
    """ADA's p in the run's last checkpoint."""
    from jittor_stylegan.formats import checkpoint
    return checkpoint.read_meta(checkpoints(name)[-1][1])["progress"].get("augment_p", 0.0)


def spread(values):
    """Mean +- half the spread of the seeds' values, or '-'."""
    return f"{(max(values) + min(values)) / 2:.1f} ± {(max(values) - min(values)) / 2:.1f}" if values else "-"


def report_fewshot(args, group, scored):
    """A few-shot group's tables (FID per iteration, mean +- half the spread over the seeds; each seed's final FID
    over no augmentation's and its final p; D's overfitting signs where scored) and its plot (FID, and the gap
    between D's scores of training and held-out images, vs iterations)."""
    if not scored:
        return
    fid = {n: {s["iteration"]: s["fid"] for s in scores} for n, scores in scored.items()}
    gap = {n: {s["iteration"]: s["d_train"] - s["d_heldout"] for s in scores if "d_train" in s}
           for n, scores in scored.items()}
    marks = sorted({i for n in fid for i in fid[n]})
    seeds = sorted({int(n.rsplit("seed", 1)[1]) for n in scored})
    augs = [(aug, [f"{group}-{aug}-seed{seed}" for seed in seeds if f"{group}-{aug}-seed{seed}" in fid])
            for aug in FEWSHOT[group].augs]
    augs = [(aug, runs) for aug, runs in augs if runs]
    print(f"\n| aug | " + " | ".join(f"FID @{m:,} it" for m in marks) + " | final / none's, per seed | final p |\n|"
          + "---|" * (len(marks) + 3))
    for aug, runs in augs:
        ratios = []
        for n in runs:
            none = n.replace(f"-{aug}-", "-none-")
            ratios.append(f"{fid[n][max(fid[n])] / fid[none][max(fid[none])]:.2f}" if none in fid else "-")
        print(f"| {aug} | " + " | ".join(spread([fid[n][m] for n in runs if m in fid[n]]) for m in marks)
              + f" | {', '.join(ratios)} | {', '.join(f'{final_augment_p(n):.2f}' for n in runs)} |")
    overfit = any(gap.values())
    if overfit:
        print(f"\nD(training images) - D(held-out images), mean raw score, unaugmented:\n\n| aug | "
              + " | ".join(f"@{m:,} it" for m in marks)
              + " | sign of D on training / held-out images (/ training images augmented at p), end |\n|"
              + "---|" * (len(marks) + 2))
        for aug, runs in augs:
            signs = [f"{s['sign_train']:.2f} / {s['sign_heldout']:.2f}"
                     + (f" / {s['sign_train_aug']:.2f}" if "sign_train_aug" in s else "")
                     for n in runs for s in scored[n][-1:] if "sign_train" in s]
            print(f"| {aug} | " + " | ".join(spread([gap[n][m] for n in runs if m in gap[n]]) for m in marks)
                  + f" | {', '.join(signs) or '-'} |")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2 if overfit else 1, figsize=(13 if overfit else 8, 4.5), squeeze=False)
    colours = dict(zip(FEWSHOT_AUGS, ("tab:red", "tab:blue", "tab:green")))
    images = FEWSHOT[group].images
    for name in scored:
        aug, seed = name[len(group) + 1:].rsplit("-seed", 1)
        style = dict(marker="o", color=colours[aug], linestyle="-" if seed == "0" else "--",
                     label=f"--aug {aug}, seed {seed}")
        for ax, values in zip(axes[0], (fid[name], gap[name])):
            its = sorted(values)
            ax.plot(its, [values[i] for i in its], **style)
    axes[0][0].set_ylabel(f"FID ({args.reals:,} of all 70,000 real; {args.fakes:,} generated)")
    axes[0][0].set_title(f"StyleGAN 2 on {images} Fashion-MNIST images, {FEWSHOT_SIZE} px")
    if overfit:
        axes[0][1].set_ylabel("mean D score: training - held-out images")
        axes[0][1].set_title("D memorising its training images (0: none)")
        axes[0][1].axhline(0, color="grey", linewidth=0.5)
    for ax in axes[0]:
        ax.set_xlabel(f"iterations (batch 16; {images} training images)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    plot = os.path.join(HERE, f"{group}_fid.png")
    fig.savefig(plot, dpi=100)
    print(f"wrote {plot}")


def main():
    args = parse()
    if args.worker:
        sys.path.insert(0, HERE)
        sys.path.insert(0, REPO)
        torch_worker(args, args.worker)
        return
    os.makedirs(WORK, exist_ok=True)
    if not args.report_only:
        for data in sorted({d for n in args.runs for d in (RUNS[n][1], REALS_OF.get(RUNS[n][1], RUNS[n][1]))}):
            prepare(data)
        train_all(args)
        if args.train_only:
            return
        score_all(args)
    report(args)


if __name__ == "__main__":
    main()
