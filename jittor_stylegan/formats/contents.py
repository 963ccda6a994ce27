"""What every format's reader gives, whatever the file: its family, its networks' constructor arguments and
states, and its training state where the format has one (``Contents``); and the one error they raise."""
from dataclasses import dataclass

import numpy as np

from .. import families


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message is one line naming the file and the problem."""


def one_line(e):
    """An exception as one short line, for a CheckpointError's message."""
    return f"{type(e).__name__}: {str(e).splitlines()[0][:200]}" if str(e) else type(e).__name__


@dataclass
class Contents:
    """A checkpoint file read in this project's terms.

    format: what ``formats.sniff`` calls it. arch: its family (``jittor_stylegan.families``). args, states:
    {checkpoint key: constructor arguments, state ({name: array} in the reference's names)} of the networks
    read. generator: the key of the generator to sample (the EMA generator where the file holds one). w_avg:
    that generator's truncation centre, where the file keeps one. step: the progressive-growing step it was
    trained to (None: all its sizes, or unknown). alpha: how far StyleGAN 1 had faded that size in (sampled as
    training did: a checkpoint written mid fade-in has untrained last layers). class_names: a conditional run's. training: the training
    state, where the format has one:
    (meta, tensors) of this project's checkpoint, the whole dict of a rosinality or StyleGanJittor file.
    """

    path: str
    format: str
    arch: str
    args: dict
    states: dict
    generator: str
    w_avg: object = None
    step: int = None
    alpha: float = 1.0
    class_names: list = None
    training: object = None

    def build(self, key):
        """Network ``key`` built from its constructor arguments and loaded (the sampled generator with its
        truncation centre); one that does not fit them is a CheckpointError."""
        try:
            net = families.build(self.arch, key, self.args[key], self.states[key])
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{self.path}: its {key} network does not fit its constructor arguments "
                                  f"({e})") from None
        if key == self.generator and self.w_avg is not None:
            net.w_avg = np.asarray(self.w_avg, np.float32)
        if key == self.generator:
            net.class_names, net.trained_alpha = self.class_names, self.alpha
        return net
