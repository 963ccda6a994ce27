"""The training loop is written against the declared family contract (``training.family.Family``) alone,
and every registered family satisfies it."""
import ast
import inspect
import os

import numpy as np
import pytest

from conftest import REPO
from jittor_stylegan.families import ROLES
from jittor_stylegan.formats import checkpoint
from jittor_stylegan.training import families, loop
from jittor_stylegan.training.family import PHASES, Family, GANFamily


def contract_members():
    return {name for name in dir(Family) if not name.startswith("_")} - {n for n in dir(object)}


def test_the_loop_uses_only_the_contract():
    used = set()
    for node in ast.walk(ast.parse(inspect.getsource(loop))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "family":
            used.add(node.attr)
    assert used and used <= contract_members(), used - contract_members()
    assert {"train_step", "networks", "optimizers", "restored", "advance", "sampler"} <= used


def test_the_contract_is_declared_member_by_member():
    members = contract_members()
    assert {"arch", "log_fields", "network_args", "progress", "resolution", "batch_size", "latent_dim"} <= members
    for name in members - {"arch", "log_fields"}:
        assert name in Family.__abstractmethods__, name
        assert (inspect.getdoc(getattr(Family, name)) or "").strip(), f"{name} is not documented"


def tiny_config(arch):
    """The config of the old-checkpoint fixture of ``arch`` (a tiny run)."""
    return checkpoint.read_meta(os.path.join(REPO, "tests", "fixtures", f"old_{arch}.npz"))["config"]


@pytest.mark.parametrize("arch", families.ARCHS)
def test_every_family_satisfies_the_contract(arch):
    cls = families.family_class(arch)
    assert issubclass(cls, GANFamily) and not cls.__abstractmethods__ and cls.arch == arch
    assert set(cls.KEYS) == set(ROLES) and len(set(cls.KEYS.values())) == len(ROLES)
    cfg = tiny_config(arch)
    family = families.family(cfg)
    nets, opts = family.networks(), family.optimizers()
    assert set(nets) == {cls.KEYS[r] for r in ("generator", "discriminator", "ema")}
    assert set(opts) == {cls.KEYS[r] for r in ("g_optimizer", "d_optimizer")}
    args = cls.network_args(cfg)
    assert set(args) == set(nets)
    for key, net in nets.items():  # each network is rebuilt from its constructor arguments
        rebuilt = type(net)(**args[key])
        assert [(n, tuple(p.shape)) for n, p in rebuilt.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in net.named_parameters()]
    ema = {n: p.numpy() for n, p in nets[cls.KEYS["ema"]].named_parameters()}
    for name, p in nets[cls.KEYS["generator"]].named_parameters():  # the EMA starts as G
        assert np.array_equal(ema[name], p.numpy()), name
    assert family.resolution in family.sizes_needed and family.batch_size == cfg["batch_default"]
    assert family.latent_dim == cfg["code_size"] and isinstance(family.progress, dict)
    assert set(family.share(family.batch_size)) == set(range(family.batch_size))
    family.check_split()
    assert all(family.due(phase, 0) for phase in ("d_main", "g_main"))
    assert {phase for phase in PHASES if hasattr(family, phase)} >= {"d_main", "g_main"}


def test_every_family_has_its_networks_entry():
    """Training's families (``settings.FAMILIES``) and the networks' registry sampling reads with name the same."""
    from jittor_stylegan import families as networks
    assert networks.ARCHS == families.ARCHS
    for arch in families.ARCHS:
        assert issubclass(families.family_class(arch), networks.networks(arch))
