"""The model families by ``arch`` name: one module under ``training/`` each, whose ``FAMILY`` is its
``family.GANFamily`` subclass."""
from .settings import ARCHS


def _module(arch):
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose from {ARCHS}")
    from importlib import import_module
    return import_module(f"{__package__}.{arch}")


def family_class(arch):
    """The ``family.Family`` class of an arch."""
    return _module(arch).FAMILY


def family(cfg):
    """The training adapter of ``cfg["arch"]`` (default StyleGAN 1), with fresh networks."""
    return family_class(cfg.get("arch", "stylegan1"))(cfg)
