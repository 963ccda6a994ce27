"""The training families by ``arch`` name: one module under ``training/`` each, whose ``FAMILY`` is its
``family.GANFamily`` subclass (of its networks' entry in ``jittor_stylegan.families``)."""
from .. import families
from .settings import ARCHS


def family_class(arch):
    """The ``family.Family`` class of an arch."""
    families.networks(arch)  # an unknown arch: a ValueError naming the known ones
    from importlib import import_module
    return import_module(f"{__package__}.{arch}").FAMILY


def family(cfg):
    """The training adapter of ``cfg["arch"]`` (default StyleGAN 1), with fresh networks."""
    return family_class(cfg.get("arch", "stylegan1"))(cfg)
