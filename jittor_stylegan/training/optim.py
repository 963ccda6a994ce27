"""Adam with per-group learning-rate multipliers, its checkpointable state, and the EMA update."""
import contextlib

import jittor as jt
import numpy as np


class Adam(jt.optim.Adam):
    """Jittor's Adam with a step count per parameter, as PyTorch's: a parameter's bias correction
    counts only the updates it took part in (a block grown in later starts afresh, not at the
    optimizer's count), so a PyTorch Adam state (``step`` per parameter) maps onto it exactly. With
    ``finite``, gradients pass ``finite_grad`` first (NVIDIA's mixed-precision training)."""

    def __init__(self, params, lr, betas, finite=False):
        super().__init__(params, lr, betas=betas)
        self.finite = finite
        for group in self.param_groups:
            group["steps"] = [0] * len(group["params"])

    def step(self, loss=None, retain_graph=False):
        self.pre_step(loss, retain_graph)
        for group in self.param_groups:
            lr, eps, (b0, b1) = group["lr"], group.get("eps", self.eps), group.get("betas", self.betas)
            for i, (p, g, v, m) in enumerate(zip(group["params"], group["grads"], group["values"], group["m"])):
                if p.is_stop_grad():
                    continue
                group["steps"][i] += 1
                if self.finite:
                    g = finite_grad(g)
                n = float(group["steps"][i])
                m.update(b0 * m + (1 - b0) * g)
                v.update(b1 * v + (1 - b1) * g * g)
                step_size = lr * jt.sqrt(1 - b1 ** n) / (1 - b0 ** n)
                p.update(p - m * step_size / (jt.sqrt(v) + eps))
        self.post_step()


FINITE_GRAD_MAX = 1e5


def finite_grad(g):
    """g with NaN as 0 and +-inf as +-1e5 (NVIDIA's ``nan_to_num(nan=0, posinf=1e5, neginf=-1e5)``): a float16
    overflow costs one step's gradient of the entries it hit, not the weights."""
    g = jt.ternary(g.isnan(), jt.zeros_like(g), g)
    return jt.ternary(g.isinf(), g.clamp(-FINITE_GRAD_MAX, FINITE_GRAD_MAX), g)


def adam(groups, lr, betas, finite=False):
    """Adam over ``groups``: a list of (parameters, lr multiplier) pairs; ``finite``: see ``Adam``."""
    optimizer = Adam([{"params": list(params), "mult": mult} for params, mult in groups], lr, betas, finite)
    set_lr(optimizer, lr)
    return optimizer


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("mult", 1)
    optimizer.lr = lr


def state(optimizer):
    """(JSON-able scalars, arrays) of an optimizer, for a checkpoint."""
    scalars = {"n_step": optimizer.n_step, "lr": [g["lr"] for g in optimizer.param_groups]}
    arrays = [{"m": [v.numpy() for v in g["m"]], "values": [v.numpy() for v in g["values"]],
               "steps": np.array(g["steps"], dtype=np.int64)} for g in optimizer.param_groups]
    return scalars, arrays


def restore(optimizer, scalars, arrays):
    """Inverse of ``state``; a mismatch in groups or shapes is a ValueError. Checkpoints written before
    the per-parameter step counts existed give every parameter the optimizer's count, as applied then."""
    if len(arrays) != len(optimizer.param_groups):
        raise ValueError(f"optimizer has {len(optimizer.param_groups)} parameter groups, the checkpoint {len(arrays)}")
    optimizer.n_step = int(scalars["n_step"])
    for group, lr, saved in zip(optimizer.param_groups, scalars["lr"], arrays):
        group["lr"] = lr
        steps = [int(n) for n in saved.get("steps", [optimizer.n_step] * len(group["params"]))]
        if len(steps) != len(group["params"]):
            raise ValueError(f"optimizer group sizes differ ({len(steps)} vs {len(group['params'])})")
        group["steps"] = steps
        for key in ("m", "values"):
            if len(saved[key]) != len(group[key]):
                raise ValueError(f"optimizer group sizes differ ({len(saved[key])} vs {len(group[key])})")
            for var, value in zip(group[key], saved[key]):
                if tuple(value.shape) != tuple(var.shape):
                    raise ValueError(f"optimizer buffer shape {tuple(value.shape)} vs {tuple(var.shape)}")
                var.assign(jt.array(value))


def seed_init(seed):
    """Seed Jittor's generator before networks draw their initial weights, so a run's
    initialization depends on its seed alone (not on what the process drew before, nor, under
    MPI, on its rank: Jittor's default adds the rank)."""
    jt.set_global_seed(seed, different_seed_for_mpi=False)


def materialize(*nets):
    """Run the networks' lazy initializers now, all at once: Jittor's random ops draw when they
    run, so weights left lazy would depend on when each is first used (a layer of a later
    resolution, a checkpoint, or under MPI the optimizer's first broadcast)."""
    jt.sync([p for net in nets for p in net.parameters()])


def copy_params(target, source):
    for t, s in zip(target.parameters(), source.parameters()):
        t.assign(s.detach().clone())


def accumulate(ema, model, decay):
    """ema = decay * ema + (1 - decay) * model, for every parameter, run now: left lazy, each update would
    chain onto the last and hold a copy of every parameter until something read the EMA (hundreds of Vars and
    a generator's worth of memory per iteration, freed only at the next lazy-regularization step)."""
    params = ema.parameters()
    for e, p in zip(params, model.parameters()):
        e.assign((e * decay + p.detach() * (1 - decay)).detach())
    jt.sync(params)


@contextlib.contextmanager
def only(optimizer, active):
    """Within the block the optimizer sees only ``active`` parameters: the others (layers that
    take no part in the loss, e.g. blocks of resolutions not yet grown) get no gradient and no
    update, as in PyTorch, where such parameters have no ``.grad``; Jittor would otherwise warn
    once per parameter and feed them zeros. Jittor's ``start_grad`` wraps a Var in a lazy detach that
    holds the old one: run at once, or a parameter never used would chain one more Var per iteration."""
    active = {id(p) for p in active}
    frozen = [p for g in optimizer.param_groups for p in g["params"] if id(p) not in active and not p.is_stop_grad()]
    for p in frozen:
        p.stop_grad()
    try:
        yield optimizer
    finally:
        for p in frozen:
            p.start_grad()
        jt.sync(frozen)
