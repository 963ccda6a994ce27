"""The checkpoints users already have: rosinality's StyleGAN 1 ``train_step-N.model`` and StyleGAN 2
``.pt`` training files resume training (weights and Adam states mapped exactly), StyleGanJittor's
jt.save files sample and resume, and a crafted jt.save file runs no code."""
import argparse
import os
import re
import sys

import jittor as jt
import numpy as np
import pytest

import generate
import train
import video_write
from conftest import REPO
from test_workflow import lmdb_path  # noqa: F401  (the shared toy LMDB fixture: 8 px RGB images)

from jittor_stylegan import convert
from jittor_stylegan.formats import checkpoint
from jittor_stylegan.training import foreign

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(REPO, "bench"))
import torch_stylegan1  # noqa: E402
import torch_stylegan2  # noqa: E402

# Tiny networks of the reference models, sized for the 8 px toy LMDB.
SG1 = dict(max_size=8, channel_base=64, max_channels=16)
SG1_CODE, SG1_MLP = 16, 2
SG2_CHANNELS = {4: 16, 8: 16}
QUIET = ["--no_progress", "--sample_rows", "1", "--sample_cols", "2"]


def run_files(run_dir):
    return sorted(os.listdir(os.path.join(run_dir, "checkpoint")))


def torch_sg1_training_file(path, steps=2):
    """rosinality's train.py state after ``steps`` iterations at 4 px, saved as it saves
    ``checkpoint/train_step-N.model`` when moving on: the 8 px layers have never been updated."""
    torch.manual_seed(0)
    g = torch_stylegan1.StyledGenerator(SG1_CODE, SG1_MLP, **SG1)
    d = torch_stylegan1.Discriminator(from_rgb_activate=True, **SG1)
    g_running = torch_stylegan1.StyledGenerator(SG1_CODE, SG1_MLP, **SG1)
    g_running.load_state_dict(g.state_dict())
    g_opt = torch.optim.Adam(g.generator.parameters(), lr=0.001, betas=(0.0, 0.99))
    g_opt.add_param_group({"params": g.style.parameters(), "lr": 0.001 * 0.01, "mult": 0.01})
    d_opt = torch.optim.Adam(d.parameters(), lr=0.001, betas=(0.0, 0.99))
    real = torch.randn(4, 3, 4, 4)
    for _ in range(steps):
        d.zero_grad()
        (d(g(torch.randn(4, SG1_CODE), step=0).detach(), step=0).mean() - d(real, step=0).mean()).backward()
        d_opt.step()
        g.zero_grad()
        (-d(g(torch.randn(4, SG1_CODE), step=0), step=0).mean()).backward()
        g_opt.step()
        with torch.no_grad():
            for e, p in zip(g_running.parameters(), g.parameters()):
                e.mul_(0.999).add_(0.001 * p)
    torch.save({"generator": g.state_dict(), "discriminator": d.state_dict(), "g_optimizer": g_opt.state_dict(),
                "d_optimizer": d_opt.state_dict(), "g_running": g_running.state_dict()}, path)
    return {"generator": g, "discriminator": d, "g_running": g_running}, {"g_optimizer": g_opt, "d_optimizer": d_opt}


def torch_sg2_training_file(path, iterations=2):
    """rosinality's StyleGAN 2 train.py state after ``iterations`` iterations, saved as its ``.pt``."""
    torch.manual_seed(0)
    G, D, g_ema, g_optim, d_optim = torch_stylegan2.make_training(8, 16, 2, channels=SG2_CHANNELS)
    rng = np.random.default_rng(0)
    mean_path_length = 0.0
    for i in range(1, iterations + 1):  # iterations 1, 2: no lazy regularization
        inputs = torch_stylegan2.iteration_inputs(rng, i, 4, 16, 8)
        _, mean_path_length = torch_stylegan2.train_iteration(G, D, g_ema, g_optim, d_optim, i,
                                                              torch.randn(4, 3, 8, 8), inputs, mean_path_length)
    torch.save({"g": G.state_dict(), "d": D.state_dict(), "g_ema": g_ema.state_dict(), "g_optim": g_optim.state_dict(),
                "d_optim": d_optim.state_dict(), "ada_aug_p": 0.25,  # as after its --augment (ADA)
                "args": argparse.Namespace(size=8, latent=16, n_mlp=2, lr=0.002, iter=800000, batch=4)}, path)
    return {"g": G, "d": D, "g_ema": g_ema}, {"g_optim": g_optim, "d_optim": d_optim}


def assert_mapped(path, nets, optims, cfg, optimized, steps):
    """The (meta, tensors) made from a torch file hold its weights, and every parameter's Adam moments
    and step count under its own name (zeros and 0 for those it never updated)."""
    cfg, (meta, tensors) = foreign.read(str(path)).resume(cfg, {})
    for key, net in nets.items():
        for name, p in net.named_parameters():
            assert np.array_equal(tensors[key][name], p.detach().numpy()), name
    from jittor_stylegan.training import families
    family = families.family(cfg)
    for opt_key, net_key in optimized.items():
        by_param = {id(p): name for name, p in nets[net_key].named_parameters()}
        torch_state = {by_param[id(p)]: optims[opt_key].state.get(p, {})
                       for group in optims[opt_key].param_groups for p in group["params"]}
        ours = {id(p): n for n, p in family.networks()[net_key].named_parameters()}
        seen = set()
        for group, saved in zip(family.optimizers()[opt_key].param_groups, tensors[opt_key]):
            for p, m, v, step in zip(group["params"], saved["m"], saved["values"], saved["steps"]):
                name = ours[id(p)]
                state = torch_state[name]
                assert int(step) == int(state.get("step", 0)), name
                for array, key in ((m, "exp_avg"), (v, "exp_avg_sq")):
                    want = state[key].numpy() if key in state else np.zeros(p.shape)
                    assert np.array_equal(array, want), name
                seen.add(name)
        assert seen == set(torch_state)
        assert {int(s) for saved in tensors[opt_key] for s in saved["steps"]} == steps
    return cfg, meta


def test_rosinality_stylegan1_train_step_resumes(lmdb_path, tmp_path):  # noqa: F811
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    path = folder / "train_step-1.model"
    nets, optims = torch_sg1_training_file(path)
    cfg = train.new_config(train.parse([lmdb_path, "--sched", "--init_size", "8", "--mixing"])[1])
    cfg["channels"] = 3
    cfg, meta = assert_mapped(path, nets, optims, cfg, foreign.OPTIMIZED["stylegan1"], {0, 2})  # 8 px: never
    # Shapes come from the file (the defaults, 1024 px and 512 wide, would not fit it); the run restarts
    # at --init_size with no samples used.
    assert (cfg["max_size"], cfg["code_size"], cfg["n_mlp"], cfg["max_channels"]) == (8, 16, 2, 16)
    assert meta["progress"]["step"] == 1 and meta["progress"]["used_sample"] == 0

    # The README's command (data and iterations shrunk): one iteration, then our checkpoint.
    run = str(tmp_path / "run")
    trainer = train.main([lmdb_path, "--sched", "--init_size", "8", "--ckpt", str(path), "--mixing",
                          "--iterations", "1", "--run_dir", run] + QUIET)
    assert run_files(run) == ["000001.npz"]
    meta, tensors = checkpoint.load(os.path.join(run, "checkpoint", "000001.npz"))
    assert meta["progress"]["step"] == 1 and meta["progress"]["used_sample"] == 256  # --sched: 256 at 8 px
    with open(os.path.join(run, "log.csv")) as f:
        alpha = float(f.read().splitlines()[1].split(",")[2])
    assert alpha < 1e-5  # fading the 8 px layers in, as rosinality's resumed train.py: (0 + 1) / 600000
    # Each parameter moved by one Adam step from the file's weights: by lr at most for one the file never
    # updated (PyTorch's first step, lr * sign(g); the optimizer's count, 3, would allow 1.72 lr), by
    # lr * sqrt(1 - 0.99^3) / sqrt(0.01) = 1.72 lr at most for one it updated twice (float32 rounding: 1e-6).
    lr = 0.001
    for key, opt_key in (("generator", "g_optimizer"), ("discriminator", "d_optimizer")):
        updated = {id(p) for p in optims[opt_key].state}
        for name, p in nets[key].named_parameters():
            delta = np.abs(tensors[key][name] - p.detach().numpy()).max()
            assert 0 < delta <= (1.73 * lr if id(p) in updated else lr) + 1e-6, (name, delta)
    # The Adam steps went on from the file's counts: 3 for the 4 px layers (2 + this one), 1 for the 8 px ones.
    steps = {int(s) for saved in tensors["g_optimizer"] for s in saved["steps"]}
    assert steps == {1, 3}
    assert trainer.resolution == 8

    # rosinality's sample-only file (a bare g_running state, checkpoint/010000.model) samples.
    torch.save(nets["g_running"].state_dict(), folder / "010000.model")
    out = str(tmp_path / "samples")
    generate.main(["--path", str(folder / "010000.model"), "--size", "8", "--n_row", "1", "--n_col", "2", "--out", out])
    assert "sample.png" in os.listdir(out)


def test_rosinality_stylegan2_pt_resumes(lmdb_path, tmp_path):  # noqa: F811
    path = tmp_path / "000002.pt"
    nets, optims = torch_sg2_training_file(path)
    args = train.parse([lmdb_path, "--arch", "stylegan2", "--batch_default", "4"])[1]
    cfg = dict(train.new_config(args), channels=3)
    cfg, meta = assert_mapped(path, nets, optims, cfg, foreign.OPTIMIZED["stylegan2"], {2})
    assert (cfg["max_size"], cfg["code_size"], cfg["n_mlp"], cfg["max_channels"]) == (8, 16, 2, 16)
    assert meta["progress"]["iteration"] == 2  # rosinality's start_iter: the file name
    assert cfg["aug"] == "ada" and meta["progress"]["augment_p"] == 0.25  # its ADA p goes on

    run = str(tmp_path / "run")
    train.main([lmdb_path, "--ckpt", str(path), "--batch_default", "4", "--iterations", "3", "--run_dir", run] + QUIET)
    assert run_files(run) == ["000003.npz"]
    meta, tensors = checkpoint.load(os.path.join(run, "checkpoint", "000003.npz"))
    assert meta["arch"] == "stylegan2" and meta["progress"]["iteration"] == 3
    lr = 0.002 * 16 / 17  # D's (G's is 0.002 * 4 / 5): one Adam step moves a weight by a few lr at most
    for key in ("g", "d"):
        for name, p in nets[key].named_parameters():
            delta = np.abs(tensors[key][name] - p.detach().numpy()).max()
            assert delta <= 4 * lr, (name, delta)
    assert {int(s) for saved in tensors["d_optim"] for s in saved["steps"]} == {3}

    # A wrong shape option is one line, naming the option.
    with pytest.raises(SystemExit, match="--max_size 16 does not fit"):
        train.main([lmdb_path, "--ckpt", str(path), "--max_size", "16", "--run_dir", str(tmp_path / "r2")] + QUIET)


def stylegan_jittor_state(module, derived=True):
    """A network's state as StyleGanJittor's ``state_dict()`` holds it: the reference's names plus, for
    every equalized-lr layer that ran, the derived ``weight`` its hook stores beside ``weight_orig``."""
    state = convert.numpy_state(module)
    if derived:
        state.update({k[:-len("_orig")]: v * 0.5 for k, v in state.items() if k.endswith(".weight_orig")})
    return state


def stylegan_jittor_files(folder):
    """StyleGanJittor's files, written with jt.save: ``040000.model`` (g_running's state) and
    ``train_step-1.model`` (networks and optimizers; Jittor of its time saved only Adam's settings).
    Like StyleGanJittor's (1024 px networks trained to 64 px), the networks are larger than the data:
    16 px."""
    from jittor_stylegan.models.stylegan1 import Discriminator, StyledGenerator
    jt.set_global_seed(3)
    g = StyledGenerator(SG1_CODE, SG1_MLP, **dict(SG1, max_size=16))
    d = Discriminator(from_rgb_activate=True, **dict(SG1, max_size=16))
    adam = {"defaults": {"lr": 0.0002, "param_sync_iter": 10000, "eps": 1e-8, "betas": (0.0, 0.99),
                         "weight_decay": 0}}
    jt.save(stylegan_jittor_state(g), str(folder / "040000.model"))
    jt.save({"generator": stylegan_jittor_state(g), "discriminator": stylegan_jittor_state(d),
             "g_optimizer": adam, "d_optimizer": dict(adam), "g_running": stylegan_jittor_state(g)},
            str(folder / "train_step-1.model"))
    return g, d


def test_stylegan_jittor_files_sample_and_resume(lmdb_path, tmp_path, capsys):  # noqa: F811
    g, d = stylegan_jittor_files(tmp_path)
    out = str(tmp_path / "samples")
    generate.main(["--path", str(tmp_path / "040000.model"), "--size", "8", "--n_row", "1", "--n_col", "2",
                   "--out", out])
    assert "sample.png" in os.listdir(out)
    video = str(tmp_path / "interp.mp4")
    video_write.main(["--ckpt", str(tmp_path / "040000.model"), "--size", "8", "--out", video, "--seeds", "1", "2",
                      "--frames", "2"])
    assert os.path.getsize(video) > 0
    from jittor_stylegan.loading import generator_from_checkpoint
    loaded, arch, _ = generator_from_checkpoint(str(tmp_path / "040000.model"))
    assert arch == "stylegan1"
    for (name, p), (_, q) in zip(g.named_parameters(), loaded.named_parameters()):
        assert np.array_equal(p.numpy(), q.numpy()), name

    # Resumed at 8 px, trained up to --max_size 8 (StyleGanJittor's own --max_size 64): the 16 px blocks
    # are left out, D's blocks renumbered (its block 0 takes the largest images).
    run = str(tmp_path / "run")
    train.main([lmdb_path, "--init_size", "8", "--max_size", "8", "--ckpt", str(tmp_path / "train_step-1.model"),
                "--iterations", "1", "--batch_default", "4", "--run_dir", run] + QUIET)
    assert "holds no Adam moments" in capsys.readouterr().out
    meta, tensors = checkpoint.load(os.path.join(run, "checkpoint", "000001.npz"))
    assert meta["config"]["max_size"] == 8
    renamed = {"generator": lambda n: None if n.startswith(("generator.progression.2.", "generator.to_rgb.2."))
               else n,
               "discriminator": lambda n: None if n.startswith(("progression.0.", "from_rgb.0.")) else
               re.sub(r"^(progression|from_rgb)\.(\d+)", lambda m: f"{m.group(1)}.{int(m.group(2)) - 1}", n)}
    for key, net in (("generator", g), ("discriminator", d)):
        names = {renamed[key](name): p for name, p in net.named_parameters()}
        names.pop(None)
        assert set(names) == set(tensors[key])
        for name, p in names.items():
            # Adam afresh: a first step moves each weight by lr (0.001) at most (float32 rounding: 1e-6)
            assert 0 < np.abs(tensors[key][name] - p.numpy()).max() <= 0.001 + 1e-6, name
    # Jittor 1.3.11's jt.save pickles Vars (jittor.Var(array)): read as arrays, never constructed.
    jt.save({k: jt.array(v) for k, v in stylegan_jittor_state(g).items()}, str(tmp_path / "vars.model"))
    loaded, _, _ = generator_from_checkpoint(str(tmp_path / "vars.model"))
    assert all(np.array_equal(p.numpy(), q.numpy()) for p, q in zip(g.parameters(), loaded.parameters()))


def test_stylegan_jittor_adam_moments_map_exactly(lmdb_path, tmp_path):  # noqa: F811
    """Newer Jittor saves Adam's moments too: StyleGanJittor's G optimizer lists every parameter twice
    (at lr and lr * 0.01; Jittor's gradient reaches the first listing only), at the optimizer's step count."""
    from jittor_stylegan.models.stylegan1 import Discriminator, StyledGenerator
    jt.set_global_seed(4)
    g, d = StyledGenerator(SG1_CODE, SG1_MLP, **SG1), Discriminator(from_rgb_activate=True, **SG1)
    g_opt = jt.optim.Adam(g.parameters(), 0.001, betas=(0.0, 0.99))
    g_opt.add_param_group({"params": g.parameters(), "lr": 0.001 * 0.01, "mult": 0.01})
    d_opt = jt.optim.Adam(d.parameters(), 0.001, betas=(0.0, 0.99))
    for _ in range(2):
        d_opt.step(d(g(jt.randn(2, SG1_CODE), step=1).detach(), step=1).mean() - d(jt.randn(2, 3, 8, 8), step=1).mean())
        g_opt.step(-d(g(jt.randn(2, SG1_CODE), step=1), step=1).mean())
    states = {key: {name: p.numpy() for name, p in net.named_parameters()} for key, net in (("g", g), ("d", d))}
    path = str(tmp_path / "train_step-1.model")
    jt.save({"generator": states["g"], "discriminator": states["d"], "g_running": states["g"],
             "g_optimizer": g_opt.state_dict(), "d_optimizer": d_opt.state_dict()}, path)
    cfg = dict(train.new_config(train.parse([lmdb_path, "--init_size", "8"])[1]), channels=3)
    cfg, (meta, tensors) = foreign.read(path).resume(cfg, {})
    from jittor_stylegan.training import families
    family = families.family(cfg)
    for opt_key, net_key, opt, net in (("g_optimizer", "generator", g_opt, g),
                                       ("d_optimizer", "discriminator", d_opt, d)):
        first = opt.param_groups[0]
        theirs = {id(p): (m.numpy(), v.numpy()) for p, m, v in zip(first["params"], first["m"], first["values"])}
        by_name = {name: theirs[id(p)] for name, p in net.named_parameters()}
        ours = {id(p): name for name, p in family.networks()[net_key].named_parameters()}
        for group, saved in zip(family.optimizers()[opt_key].param_groups, tensors[opt_key]):
            for p, m, v, step in zip(group["params"], saved["m"], saved["values"], saved["steps"]):
                name = ours[id(p)]
                assert np.array_equal(m, by_name[name][0]) and np.array_equal(v, by_name[name][1]) and step == 2, name
        assert meta["optimizers"][opt_key]["n_step"] == 2
    # Groups that hold different moments for a parameter cannot be mapped: refused in one line.
    g_state = g_opt.state_dict()
    g_state["defaults"]["param_groups"][1]["m"][0] = g_state["defaults"]["param_groups"][1]["m"][0] + 1
    jt.save({"generator": states["g"], "discriminator": states["d"], "g_running": states["g"],
             "g_optimizer": g_state, "d_optimizer": d_opt.state_dict()}, path)
    with pytest.raises(checkpoint.CheckpointError, match="different moments.*cannot be mapped exactly"):
        foreign.read(path).resume(cfg, {})


class _Payload:
    """Unpickling this creates the marker file: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_jt_save_file_runs_no_code(lmdb_path, tmp_path):  # noqa: F811
    marker = tmp_path / "pwned"
    path = str(tmp_path / "train_step-1.model")
    jt.save({"generator": {"w": _Payload(str(marker))}, "discriminator": {}, "g_running": {},
             "g_optimizer": {}, "d_optimizer": {}}, path)
    for cli in (lambda: train.main([lmdb_path, "--ckpt", path, "--run_dir", str(tmp_path / "run")] + QUIET),
                lambda: generate.main(["--path", path, "--size", "8", "--out", str(tmp_path / "g")])):
        with pytest.raises(SystemExit, match="refusing to load .*open: only arrays") as e:
            cli()
        assert "\n" not in str(e.value)
    assert not marker.exists()
    # A generator-only file is no training state: one line, pointing to sampling.
    jt.save(stylegan_jittor_state(torch_free_generator()), str(tmp_path / "040000.model"))
    with pytest.raises(SystemExit, match="holds no training state.*samples"):
        train.main([lmdb_path, "--ckpt", str(tmp_path / "040000.model"), "--run_dir", str(tmp_path / "r")] + QUIET)


def torch_free_generator():
    from jittor_stylegan.models.stylegan1 import StyledGenerator
    return StyledGenerator(SG1_CODE, SG1_MLP, **SG1)
