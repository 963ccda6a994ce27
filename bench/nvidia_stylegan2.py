"""NVIDIA's stylegan2-ada-pytorch training step, the fastest PyTorch StyleGAN 2, for bench_training.py.

NVIDIA's code is not part of this repository: it is read from the folder ``--nvidia_src`` names (or
``$JSG_NVIDIA_SRC``), which ``bench/prepare_nvidia.sh`` fills (git-ignored ``bench/.nvidia/src``). Its
networks are built as its ``train.py`` builds them: mixed precision on the 4 highest resolutions
(``num_fp16_res=4``), activations clamped to 256, mapping depth 8, its custom CUDA ops (``bias_act``,
``upfirdn2d``; on CPU, or when they fail to build, its slow reference ops). The widths are ours
(``channel_base = 16384 * channel_multiplier``, ``channel_max = max_channels`` give rosinality's table),
so its rows time the same model as the others: its ``--cfg stylegan2`` widths; ``auto`` and ``paper256``
halve them below 512 px. One iteration is its ``training_loop``'s: the phases Gmain, Greg (every 4),
Dmain, Dreg (every 16) with lazy-regularization-scaled Adam, non-finite gradients made finite, the EMA.

    .venv/bin/python bench/nvidia_stylegan2.py --smoke [--nvidia_src DIR]   # CPU, 16 px, seconds
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, ".nvidia", "src")
NINJA_DIR = os.path.join(HERE, ".nvidia", "ninja", "bin")  # prepare_nvidia.sh's ninja, for the custom ops' build
FP16_RES, CONV_CLAMP, MBSTD_GROUP = 4, 256, 4  # its train.py: num_fp16_res, conv_clamp; mbstd group of 'auto'
R1_GAMMA, PL_WEIGHT, G_REG, D_REG, EMA_KIMG = 10, 2, 4, 16, 10  # its 'stylegan2' cfg (rosinality's values)


def source_dir(path=None):
    """The folder holding NVIDIA's stylegan2-ada-pytorch: ``path``, ``$JSG_NVIDIA_SRC`` or bench/.nvidia/src."""
    path = path or os.environ.get("JSG_NVIDIA_SRC") or DEFAULT_SRC
    if not os.path.isfile(os.path.join(path, "training", "networks.py")):
        raise FileNotFoundError(f"no stylegan2-ada-pytorch at {path}: run bench/prepare_nvidia.sh (or pass "
                                f"--nvidia_src DIR / set JSG_NVIDIA_SRC)")
    return path


def _stub_unused_imports():
    """Empty stand-ins for what NVIDIA's dnnlib imports but training never calls, where they are missing:
    ``requests`` (downloads) and ``distutils`` (gone in Python 3.12; its ``strtobool`` asks yes/no questions)."""
    import importlib.util
    import types
    if importlib.util.find_spec("requests") is None:
        sys.modules["requests"] = types.ModuleType("requests")
    if importlib.util.find_spec("distutils") is None:
        sys.modules["distutils"] = types.ModuleType("distutils")
        sys.modules["distutils.util"] = util = types.ModuleType("distutils.util")
        util.strtobool = None
        sys.modules["distutils"].util = util


def import_nvidia(path=None):
    """NVIDIA's modules (networks, loss, bias_act, upfirdn2d) from its folder."""
    src = source_dir(path)
    _stub_unused_imports()
    if src not in sys.path:
        sys.path.insert(0, src)
    if os.path.isdir(NINJA_DIR):
        os.environ["PATH"] = NINJA_DIR + os.pathsep + os.environ.get("PATH", "")
    from torch_utils import custom_ops
    from torch_utils.ops import bias_act, upfirdn2d
    from training import loss, networks
    custom_ops.verbosity = "none"
    return networks, loss, bias_act, upfirdn2d


class NvidiaTraining:
    """G, D, G_ema, their Adam optimizers and the loss of NVIDIA's training loop, on ``device``."""

    def __init__(self, size, batch, code_size=512, n_mlp=8, channel_multiplier=2, max_channels=512, lr=0.002,
                 device="cpu", src=None, seed=0):
        import torch
        networks, loss, self._bias_act, self._upfirdn2d = import_nvidia(src)
        torch.manual_seed(seed)
        self.torch, self.device, self.batch = torch, torch.device(device), batch
        widths = dict(channel_base=16384 * channel_multiplier, channel_max=max_channels,
                      num_fp16_res=FP16_RES, conv_clamp=CONV_CLAMP)
        self.G = networks.Generator(z_dim=code_size, c_dim=0, w_dim=code_size, img_resolution=size, img_channels=3,
                                    mapping_kwargs=dict(num_layers=n_mlp), synthesis_kwargs=widths)
        self.D = networks.Discriminator(c_dim=0, img_resolution=size, img_channels=3,
                                        epilogue_kwargs=dict(mbstd_group_size=min(MBSTD_GROUP, batch)), **widths)
        self.G, self.D = (net.train().requires_grad_(False).to(self.device) for net in (self.G, self.D))
        self.G_ema = copy.deepcopy(self.G).eval()
        self.loss = loss.StyleGAN2Loss(self.device, G_mapping=self.G.mapping, G_synthesis=self.G.synthesis, D=self.D,
                                       r1_gamma=R1_GAMMA, pl_weight=PL_WEIGHT)
        self.phases = []
        for name, module, interval in (("G", self.G, G_REG), ("D", self.D, D_REG)):
            ratio = interval / (interval + 1)
            opt = torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)
            self.phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]

    def iteration(self, i, real):
        """Its training loop's iteration ``i`` on ``real`` (a float32 tensor in [-1, 1]): the phases due, the EMA."""
        torch = self.torch
        c = torch.zeros([self.batch, 0], device=self.device)
        for name, module, opt, interval in self.phases:
            if i % interval:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            z = torch.randn([self.batch, self.G.z_dim], device=self.device)
            self.loss.accumulate_gradients(phase=name, real_img=real, real_c=c, gen_z=z, gen_c=c, sync=True,
                                           gain=interval)
            module.requires_grad_(False)
            for param in module.parameters():
                if param.grad is not None:
                    torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
            opt.step()
        beta = 0.5 ** (self.batch / (EMA_KIMG * 1000))
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)

    def sample(self, n):
        with self.torch.no_grad():
            z = self.torch.randn([n, self.G.z_dim], device=self.device)
            return self.G_ema(z, self.torch.zeros([n, 0], device=self.device))

    def ops(self):
        """Which of its ops ran: "custom CUDA" when both plugins built, else "reference"."""
        return "custom CUDA" if self._bias_act._plugin is not None and self._upfirdn2d._plugin is not None \
            else "reference"


def smoke(src=None):
    """Two iterations (the second with both regularizers) at 16 px, narrow, on CPU: the CPU-side setup works."""
    import torch
    run = NvidiaTraining(16, 4, code_size=16, n_mlp=2, channel_multiplier=1, max_channels=16, src=src)
    real = torch.rand([4, 3, 16, 16]) * 2 - 1
    start = time.perf_counter()
    for i in (1, 0):  # plain, then Gmain + Greg + Dmain + Dreg
        run.iteration(i, real)
    image = run.sample(4)
    finite = all(bool(torch.isfinite(p).all()) for p in list(run.G.parameters()) + list(run.D.parameters()))
    fp16 = sorted(int(b.resolution) for b in run.G.synthesis.children() if getattr(b, "use_fp16", False))
    return {"seconds": round(time.perf_counter() - start, 2), "image": list(image.shape), "finite": finite,
            "ops": run.ops(), "g_fp16_resolutions": fp16, "image_std": float(np.std(image.numpy()))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nvidia_src",
                        help="stylegan2-ada-pytorch folder (default $JSG_NVIDIA_SRC or bench/.nvidia/src)")
    parser.add_argument("--smoke", action="store_true", required=True, help="two tiny iterations on CPU")
    args = parser.parse_args()
    print(json.dumps(smoke(args.nvidia_src)))


if __name__ == "__main__":
    main()
