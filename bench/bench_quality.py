"""Quality with few images (issue 21): does augmenting what D sees help? StyleGAN 2 at the cpu-demo
widths, 32 px, on 1,000 emoji (Debian's fonts-noto-color-emoji), trained a fixed number of iterations
with ``--aug none``, ``--aug ada`` and ``--aug diffaugment`` (the same seeds), and rosinality's PyTorch
StyleGAN 2 (bench/torch_stylegan2.py, no augmentation, the same data order, settings and threads) as
the reference row. FID and KID of each run's EMA generator against the whole set every ``--every``
iterations (``--fakes`` generated images; few, to fit a CPU: FID is biased upwards with few images,
the same for every run; KID is not).

    .venv/bin/python bench/bench_quality.py                # every run (two at a time), then the report
    .venv/bin/python bench/bench_quality.py --iterations 1000 --every 250 --fakes 200 --torch_iterations 500
    .venv/bin/python bench/bench_quality.py --report_only  # the table and plot of the finished runs

Work files go to bench/quality/ (runs, the LMDB; git-ignored); the plot to bench/quality_fid.png.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, "quality")
PLOT = os.path.join(HERE, "quality_fid.png")
SIZE, IMAGES = 32, 1000
AUGS = ("none", "ada", "diffaugment")


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=800)
    parser.add_argument("--every", type=int, default=200, help="iterations between FID / KID evaluations")
    parser.add_argument("--fakes", type=int, default=200, help="generated images per evaluation")
    parser.add_argument("--ada_kimg", type=int, default=5, help="lets p cross [0, 1] within the run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--torch_seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--torch_iterations", type=int, help="PyTorch's runs (default --iterations; fewer where "
                                                                    "it is much slower per iteration)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time (threads each: cores / parallel)")
    parser.add_argument("--report_only", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "RUN"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def data_path():
    return os.path.join(WORK, "emoji")


def prepare():
    if not os.path.isdir(data_path()):
        subprocess.run([sys.executable, os.path.join(REPO, "prepare_data.py"), "--out", data_path(), "--builtin",
                        "emoji", "--max_size", str(SIZE), "--limit", str(IMAGES)], check=True)


def runs(args):
    """{run name: (kind, seed, aug)}: ours for every aug and seed, then PyTorch's."""
    out = {f"jittor-{aug}-s{seed}": ("jittor", seed, aug) for seed in args.seeds for aug in AUGS}
    out.update({f"torch-none-s{seed}": ("torch", seed, "none") for seed in args.torch_seeds})
    return out


def jittor_command(args, run, seed, aug):
    """train.py as a user types it: the cpu-demo preset at 32 px, style mixing, a checkpoint per evaluation."""
    command = [sys.executable, os.path.join(REPO, "train.py"), data_path(), "--arch", "stylegan2", "--preset",
               "cpu-demo", "--max_size", str(SIZE), "--mixing", "--seed", str(seed), "--aug", aug, "--iterations",
               str(args.iterations), "--ckpt_every", str(args.every), "--keep", "1000", "--sample_every",
               str(args.every), "--run_dir", run, "--no_progress"]
    return command + (["--ada_kimg", str(args.ada_kimg)] if aug == "ada" else [])


def torch_worker(run, seed, iterations, every):
    """rosinality's iteration (bench/torch_stylegan2.py) with train.py's cpu-demo settings, on the data and
    in the order train.py reads them; saves g_ema as rosinality's train.py does every ``every`` iterations,
    and the seconds of each iteration."""
    import torch
    import torch_stylegan2 as tsg2
    from jittor_stylegan.data import BatchSampler, MultiResolutionDataset
    from jittor_stylegan.training.settings import FAMILIES

    cfg = dict(FAMILIES["stylegan2"].defaults, **FAMILIES["stylegan2"].presets["cpu-demo"])
    torch.manual_seed(seed)
    channels = {s: min(w, cfg["max_channels"]) for s, w in tsg2.channel_table(cfg["channel_multiplier"]).items()
                if s <= SIZE}
    G, D, g_ema, g_optim, d_optim = tsg2.make_training(SIZE, cfg["code_size"], cfg["n_mlp"], channels=channels,
                                                       lr=cfg["lr"])
    dataset = MultiResolutionDataset(data_path())
    sampler = BatchSampler(len(dataset), cfg["batch_default"], seed, SIZE)
    os.makedirs(os.path.join(run, "checkpoint"), exist_ok=True)
    seconds, mean_path_length = [], 0.0
    for i in range(iterations):
        indices, flips = sampler.next()
        real = torch.from_numpy(dataset.batch(SIZE, indices, flips).astype(np.float32))
        inputs = tsg2.iteration_inputs(np.random.default_rng([seed, i]), i, cfg["batch_default"], cfg["code_size"],
                                       SIZE)
        start = time.perf_counter()
        _, mean_path_length = tsg2.train_iteration(G, D, g_ema, g_optim, d_optim, i, real, inputs,
                                                   mean_path_length, ema_decay=cfg["ema_decay"])
        seconds.append(time.perf_counter() - start)
        if (i + 1) % every == 0:
            torch.save({"g_ema": g_ema.state_dict()}, os.path.join(run, "checkpoint", f"{i + 1:06d}.pt"))
    with open(os.path.join(run, "seconds.json"), "w") as f:
        json.dump(seconds, f)


def train_all(args):
    """Train every run not yet trained, ``--parallel`` at a time, each with cores / parallel threads."""
    threads = str(max(1, (os.cpu_count() or 2) // args.parallel))
    env = dict(os.environ, OMP_NUM_THREADS=threads)
    pending = [(name, spec) for name, spec in runs(args).items()
               if not os.path.exists(os.path.join(WORK, name, "done"))]
    active = []
    while pending or active:
        while pending and len(active) < args.parallel:
            name, (kind, seed, aug) = pending.pop(0)
            run = os.path.join(WORK, name)
            command = (jittor_command(args, run, seed, aug) if kind == "jittor" else
                       [sys.executable, __file__, "--worker", "torch", run, "--seeds", str(seed), "--iterations",
                        str(args.torch_iterations or args.iterations), "--every", str(args.every)])
            log = open(os.path.join(WORK, name + ".log"), "w")
            print(f"bench_quality: training {name} ({threads} threads)", flush=True)
            active.append((name, run, subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        time.sleep(5)
        for item in list(active):
            name, run, process, log = item
            if process.poll() is not None:
                log.close()
                active.remove(item)
                if process.returncode:
                    sys.exit(f"bench_quality: {name} failed; see {os.path.join(WORK, name + '.log')}")
                open(os.path.join(run, "done"), "w").close()


def checkpoints(run):
    folder = os.path.join(run, "checkpoint")
    return sorted((int(f.split(".")[0]), os.path.join(folder, f)) for f in os.listdir(folder)
                  if f.split(".")[0].isdigit())


def score_all(args):
    """FID and KID of every checkpoint of every run (cached in the run's scores.json)."""
    from jittor_stylegan import loading
    from jittor_stylegan.metrics import scoring
    from jittor_stylegan.metrics.inception import InceptionV3

    model = InceptionV3()
    real = scoring.DatasetImages(data_path(), SIZE)
    for name in runs(args):
        run = os.path.join(WORK, name)
        path = os.path.join(run, "scores.json")
        scores = json.load(open(path)) if os.path.exists(path) else {}
        for iteration, ckpt in checkpoints(run):
            if str(iteration) not in scores:
                fake = scoring.GeneratedImages(loading.sampler_for_size(ckpt, SIZE), args.fakes, seed=123)
                scores[str(iteration)] = scoring.evaluate(["fid", "kid"], real, fake, model=model,
                                                          show_progress=False)
                print(f"bench_quality: {name} iteration {iteration}: FID {scores[str(iteration)]['fid']:.1f}",
                      flush=True)
                with open(path, "w") as f:
                    json.dump(scores, f)


def iteration_seconds(run):
    """Mean seconds of a training iteration (log.csv's, or the PyTorch worker's, which writes them when it
    ends; None for a worker stopped early)."""
    if os.path.exists(os.path.join(run, "seconds.json")):
        return float(np.mean(json.load(open(os.path.join(run, "seconds.json")))))
    if not os.path.exists(os.path.join(run, "log.csv")):
        return None
    import csv
    with open(os.path.join(run, "log.csv")) as f:
        return float(np.mean([float(r["seconds"]) for r in csv.DictReader(f)]))


def final_p(run):
    import csv
    path = os.path.join(run, "log.csv")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        values = [r["augment_p"] for r in csv.DictReader(f)]
    return float(values[-1]) if values and values[-1] else None


def report(args):
    """The markdown table (FID per evaluation, mean over seeds and the spread) and the plot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {}
    for name, (kind, seed, aug) in runs(args).items():
        run = os.path.join(WORK, name)
        if not os.path.exists(os.path.join(run, "scores.json")):
            print(f"bench_quality: {name} has no scores (not trained or not scored); left out")
            continue
        scores = json.load(open(os.path.join(run, "scores.json")))
        groups.setdefault((kind, aug), []).append((seed, scores, iteration_seconds(run), final_p(run)))
    iterations = sorted({int(i) for rows in groups.values() for _, s, _, _ in rows for i in s})
    header = (["run", "seeds"] + [f"FID @{i}" for i in iterations] + ["KID x1e3 (at the last FID)", "final p",
                                                                       "s / iteration"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    finals = {}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (kind, aug), rows in groups.items():
        label = f"{'Jittor (this project)' if kind == 'jittor' else 'PyTorch (rosinality)'}, --aug {aug}"
        fids = np.array([[s[str(i)]["fid"] if str(i) in s else np.nan for i in iterations] for _, s, _, _ in rows])
        last = str(max(int(i) for i in rows[0][1]))
        kids = [s[last]["kid"] * 1e3 for _, s, _, _ in rows]
        finals[(kind, aug)] = fids[:, -1]

        def cell(values):
            if np.isnan(values).any():
                return "-"
            return f"{np.mean(values):.1f}" + (f" ± {np.ptp(values) / 2:.1f}" if len(values) > 1 else "")
        ps = [p for _, _, _, p in rows if p is not None]
        lines.append(f"| {label} | {','.join(str(seed) for seed, _, _, _ in rows)} | "
                     + " | ".join(cell(fids[:, k]) for k in range(len(iterations)))
                     + f" | {cell(np.array(kids))} (@{last}) | {', '.join(f'{p:.2f}' for p in ps) or '-'} | "
                     + (f"{np.mean(seconds):.2f} |" if None not in (seconds := [t for _, _, t, _ in rows]) else "- |"))
        for seed, s, _, _ in rows:
            done = sorted(int(i) for i in s)
            ax.plot(done, [s[str(i)]["fid"] for i in done], marker="o",
                    linestyle="-" if kind == "jittor" else "--", label=f"{label}, seed {seed}")
    ax.set_xlabel("iteration (batch 16)")
    ax.set_ylabel(f"FID ({args.fakes} generated vs {IMAGES} real)")
    ax.set_title(f"StyleGAN 2, cpu-demo widths, {SIZE} px, {IMAGES} emoji")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)
    print("\n".join(lines))
    if ("jittor", "ada") in finals and ("jittor", "none") in finals:
        ratio = finals[("jittor", "ada")] / finals[("jittor", "none")]
        print(f"\nfinal FID, ada / none per seed: {', '.join(f'{r:.2f}' for r in ratio)}")
    print(f"wrote {PLOT}")


def main():
    args = parse()
    if args.worker:
        sys.path.insert(0, HERE)
        torch_worker(args.worker[1], args.seeds[0], args.iterations, args.every)
        return
    os.makedirs(WORK, exist_ok=True)
    if not args.report_only:
        prepare()
        train_all(args)
        score_all(args)
    report(args)


if __name__ == "__main__":
    main()
