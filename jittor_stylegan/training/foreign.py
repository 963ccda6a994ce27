"""Resuming training from other projects' checkpoints: rosinality's StyleGAN 1 ``train_step-N.model``
and StyleGAN 2 ``.pt`` files (torch.save), and StyleGanJittor's training dicts (jt.save).

Such a file holds networks and optimizer states but no run settings: those come from the command
line, as in rosinality's ``train.py --ckpt``, except the network shapes, read off the weights (an
option that contradicts them is an error). The run restarts where rosinality's would: StyleGAN 1 at
``--init_size`` with no samples used, fading that resolution in; StyleGAN 2 at the iteration the
file name gives (``010000.pt``, else 0) with the path-length mean at 0 and, under ``--aug ada``, the
file's ADA p (``ada_aug_p``, from rosinality's ``--augment``). Adam's moments and per-parameter step
counts are mapped exactly, or the file is refused with one line.
"""
import math
import os
import re
import uuid

import numpy as np

from .. import convert, distributed, formats
from ..formats.contents import CheckpointError
from . import families
from .stylegan1 import step_of

# The training keys of each layout, and which network each optimizer steps.
OPTIMIZED = {"stylegan1": {"g_optimizer": "generator", "d_optimizer": "discriminator"},
             "stylegan2": {"g_optim": "g", "d_optim": "d"}}
EMA = {"stylegan1": "g_running", "stylegan2": "g_ema"}


def read(path):
    """The training file at ``path`` when it is a torch.save or jt.save file, else None (this project's
    checkpoints, and anything else, are left to ``formats.checkpoint.load_training`` to read or explain)."""
    if not os.path.isfile(path) or formats.sniff(path) not in ("torch", "jt.save"):
        return None
    contents = formats.read(path)
    for arch, optimized in OPTIMIZED.items():
        keys = [*optimized.values(), EMA[arch], *optimized]
        if all(key in contents.training for key in keys):
            return ForeignCheckpoint(contents, arch)
    raise CheckpointError(
        f"{path} holds no training state ({', '.join(OPTIMIZED['stylegan1'])}, ... or g, d, g_ema, g_optim, "
        f"d_optim): a generator alone samples (generate.py, video_write.py) but does not resume training")


class ForeignCheckpoint:
    """A rosinality or StyleGanJittor training file, read (``formats.Contents``: arrays only), to resume as a
    run of this project."""

    def __init__(self, read, arch):
        self.read, self.arch = read, arch
        self.path, self.kind, self.contents, self.states = read.path, read.format, read.training, read.states

    def _fail(self, message):
        raise CheckpointError(f"{self.path}: {message}")

    def _name(self, net_key, name):
        """The name in this run's networks of the file's parameter or buffer ``name`` of ``net_key``, or None
        for one of a size beyond this run's ``--max_size`` (StyleGAN 1; D numbers its blocks from the
        largest size, so they are renumbered)."""
        if self.max_size == self.net_max_size:
            return name
        drop = int(math.log2(self.net_max_size // self.max_size))
        if net_key == "discriminator":
            match = re.match(r"(progression|from_rgb)\.(\d+)\.", name)
            if match is None:
                return name
            index = int(match.group(2)) - drop
            return None if index < 0 else f"{match.group(1)}.{index}.{name[match.end():]}"
        match = re.match(r"generator\.(progression|to_rgb)\.(\d+)\.", name)
        return None if match and int(match.group(2)) > step_of(self.max_size) else name

    def _state(self, net_key):
        """The file's state of ``net_key`` in this run's names."""
        state = self.states[net_key]
        return {new: value for name, value in state.items() if (new := self._name(net_key, name)) is not None}

    def settings(self):
        """This project's settings that the file's network shapes fix."""
        arch, kw = self.read.arch, self.read.args[EMA[self.arch]]
        if arch != self.arch:
            self._fail(f"its generator is {arch}, its keys {self.arch}")
        if arch == "stylegan1":
            d_state = self.states["discriminator"]
            return dict(code_size=kw["code_dim"], n_mlp=kw["n_mlp"], max_size=kw["max_size"],
                        channel_base=kw["channel_base"], max_channels=kw["max_channels"],
                        channels=kw["image_channels"],
                        no_from_rgb_activate=not any(k.startswith("from_rgb.0.0.") for k in d_state))
        from ..models.stylegan2 import reference_channels
        widths, cap = kw["channels"], max(kw["channels"].values())
        for multiplier in (2, 1, 4, 8):  # rosinality's widths, capped at max_channels as this project's
            reference = reference_channels(multiplier)
            if all(min(reference[size], cap) == w for size, w in widths.items()):
                return dict(code_size=kw["style_dim"], n_mlp=kw["n_mlp"], max_size=kw["size"],
                            channel_multiplier=multiplier, max_channels=cap, channels=kw["image_channels"])
        self._fail(f"its widths {widths} are not rosinality's for any channel multiplier and max_channels")

    def resume(self, cfg, given):
        """(cfg, (meta, tensors)) for ``Trainer``: the new run's ``cfg`` (command line and defaults) with
        the file's network shapes, and the file's networks and optimizer states in this project's format.
        ``given``: the settings given on the command line, which must agree with the file."""
        cfg = dict(cfg)
        settings = self.settings()
        self.net_max_size = settings["max_size"]
        if self.arch == "stylegan1" and given.get("max_size", self.net_max_size) < self.net_max_size:
            settings["max_size"] = given["max_size"]  # trains up to there: the larger sizes' blocks are left out
        for key, value in settings.items():
            if key == "channels" and cfg["channels"] != value:
                self._fail(f"its networks make {value}-channel images, this run's data {cfg['channels']}-channel")
            if given.get(key) not in (None, False, value):
                self._fail(f"--{key} {given[key]} does not fit it (its networks have {key} {value})")
            cfg[key] = value
        self.max_size = cfg["max_size"]
        if self.arch == "stylegan1":
            if cfg["init_size"] > cfg["max_size"]:
                self._fail(f"--init_size {cfg['init_size']} is beyond the largest size ({cfg['max_size']} px)")
            cfg["fade_in_init_size"] = True
            progress = {"iteration": 0, "step": step_of(cfg["init_size"]), "used_sample": 0, "final_progress": False}
        else:
            stem = os.path.splitext(os.path.basename(self.path))[0]
            progress = {"iteration": int(stem) if stem.isdigit() else 0, "mean_path_length": 0.0}
            p = self.contents.get("ada_aug_p")
            if cfg.get("aug") == "ada" and isinstance(p, (int, float)) and 0 < p <= 1:
                progress["augment_p"] = float(p)  # a run of rosinality's --augment: ADA goes on from its p
        progress.update(images_seen=0, sampler={"epoch": 0, "position": 0})
        family = families.family(cfg)  # this run's networks: names and optimizer groups to map onto
        tensors = {key: self._state(key) for key in family.networks()}
        scalars = {}
        for opt_key, net_key in OPTIMIZED[self.arch].items():
            optimizer, net = family.optimizers()[opt_key], family.networks()[net_key]
            names = {id(p): name for name, p in net.named_parameters()}
            groups = [[names[id(p)] for p in group["params"]] for group in optimizer.param_groups]
            reader = self._torch_moments if self.kind == "torch" else self._jittor_moments
            moments = reader(opt_key, net, groups, optimizer)
            scalars[opt_key], tensors[opt_key] = _optimizer_state(optimizer, groups, moments)
        meta = {"arch": self.arch, "config": cfg, "progress": progress, "optimizers": scalars,
                "run_id": uuid.uuid4().hex}
        return cfg, (meta, tensors)

    def _check_hyper(self, opt_key, optimizer, betas, eps, lrs=None):
        ours_betas = tuple(optimizer.betas)
        if not np.allclose(betas, ours_betas, rtol=1e-9, atol=0) or not np.isclose(eps, optimizer.eps, rtol=1e-9):
            self._fail(f"its {opt_key} Adam (betas {tuple(betas)}, eps {eps:g}) is not this run's (betas {ours_betas}, "
                       f"eps {optimizer.eps:g}): its state cannot be mapped exactly")
        ours = [g["lr"] for g in optimizer.param_groups]
        if lrs is not None and not np.allclose(lrs, ours, rtol=1e-6, atol=0):
            self._fail(f"its {opt_key} Adam lr {lrs} is not this run's {ours}: give the --lr (and --g_reg_every, "
                       f"--d_reg_every) it was trained with")

    def _torch_moments(self, opt_key, net, groups, optimizer):
        """{name: (exp_avg, exp_avg_sq, step)} of a torch Adam state_dict. Its parameters are numbered in
        the order of its groups, which for rosinality's optimizers is the network's parameter order
        (its state_dict less buffers); the groups must hold the same parameters as this run's."""
        state = self.contents[opt_key]
        net_key = OPTIMIZED[self.arch][opt_key]
        buffers, file_state = convert.torch_buffers(net), self.states[net_key]

        def is_buffer(name):  # beyond --max_size (StyleGAN 1), the only buffers are blur kernels
            new = self._name(net_key, name)
            return new in buffers if new else name.endswith(".weight_flip") or name + "_flip" in file_state

        order = [k for k in file_state if not is_buffer(k)]
        torch_groups = state["param_groups"]
        indices = [i for g in torch_groups for i in g["params"]]
        if sorted(indices) != list(range(len(order))) or len(torch_groups) != len(groups):
            self._fail(f"its {opt_key} holds {len(indices)} parameters in {len(torch_groups)} groups, this run's "
                       f"{len(order)} in {len(groups)}: its state cannot be mapped exactly")
        order = [self._name(net_key, name) for name in order]
        for torch_group, names in zip(torch_groups, groups):
            if {order[i] for i in torch_group["params"]} - {None} != set(names):
                self._fail(f"its {opt_key} groups its parameters unlike this run: its state cannot be mapped exactly")
            if torch_group.get("amsgrad") or torch_group.get("weight_decay", 0) or torch_group.get("maximize"):
                self._fail(f"its {opt_key} uses amsgrad, weight decay or maximize, which this run's Adam does not")
        self._check_hyper(opt_key, optimizer, torch_groups[0]["betas"], torch_groups[0]["eps"],
                          [g["lr"] for g in torch_groups] if self.arch == "stylegan2" else None)
        moments = {}
        for index, values in state["state"].items():
            if order[int(index)] is not None:
                moments[order[int(index)]] = (values["exp_avg"], values["exp_avg_sq"], int(np.asarray(values["step"])))
        return moments

    def _jittor_moments(self, opt_key, net, groups, optimizer):
        """{name: (m, v, step)} of a jt.save'd Jittor Adam: none when it holds only hyperparameters
        (Jittor before 2023 saved no more; StyleGanJittor's own --ckpt restarts Adam then too). Its
        groups list every parameter of the network in the network's state order (StyleGanJittor's G:
        twice, at lr and lr * 0.01; Jittor hands a parameter listed twice its gradient in the first
        listing only, the second's moments stay zero), at the optimizer's step count. A later listing
        that holds moments must hold the same ones."""
        defaults = self.contents[opt_key].get("defaults", {})
        self._check_hyper(opt_key, optimizer, defaults.get("betas", (np.nan, np.nan)), defaults.get("eps", np.nan))
        if "param_groups" not in defaults:
            if distributed.is_main():
                print(f"train: {self.path}: its {opt_key} holds no Adam moments (older Jittor saved only its "
                      f"settings); Adam starts afresh for it, as in StyleGanJittor's own --ckpt")
            return {}
        net_key = OPTIMIZED[self.arch][opt_key]
        state = self.states[net_key]
        order, ours = list(state), {n for names in groups for n in names}
        moments = {}
        for group in defaults["param_groups"]:
            listed = zip(group["params"], order)
            if len(group["params"]) != len(order) or not all(np.array_equal(p, state[n]) for p, n in listed):
                self._fail(f"its {opt_key} groups do not list the network's parameters in its order: "
                           f"its state cannot be mapped exactly")
            for name, m, v in zip((self._name(net_key, n) for n in order), group["m"], group["values"]):
                if name not in ours:  # a fixed blur kernel (a parameter there only), or beyond --max_size
                    continue
                if name not in moments:  # its first listing, the one its gradient reaches
                    moments[name] = (m, v, int(defaults["n_step"]))
                elif (np.any(m) or np.any(v)) and not (np.array_equal(moments[name][0], m)
                                                       and np.array_equal(moments[name][1], v)):
                    self._fail(f"its {opt_key} groups hold different moments for {name}: its state cannot be "
                               f"mapped exactly")
        return moments


def _optimizer_state(optimizer, groups, moments):
    """(scalars, arrays) as ``optim.state`` writes them, from {name: (m, v, step)}; a parameter the file
    holds no moments for (one never updated) starts at zero."""
    arrays = []
    for group, names in zip(optimizer.param_groups, groups):
        entry = {"m": [], "values": [], "steps": []}
        for p, name in zip(group["params"], names):
            m, v, step = moments.get(name, (None, None, 0))
            for key, value in (("m", m), ("values", v)):
                value = np.zeros(p.shape, np.float32) if value is None else np.asarray(value, np.float32)
                if tuple(value.shape) != tuple(p.shape):
                    raise CheckpointError(f"Adam moment of {name}: shape {value.shape}, the parameter "
                                                     f"{tuple(p.shape)}")
                entry[key].append(value)
            entry["steps"].append(step)
        entry["steps"] = np.array(entry["steps"], dtype=np.int64)
        arrays.append(entry)
    n_step = max([int(a["steps"].max()) for a in arrays if len(a["steps"])] + [0])
    return {"n_step": n_step, "lr": [g["lr"] for g in optimizer.param_groups]}, arrays
