"""The kernel loader: sources from the repository's ``kernels/`` folder, run through ``jt.code`` as
their CPU (C++/OpenMP) or CUDA variant on the device Jittor runs on."""
import functools
import math
import os
import re

import jittor as jt

KERNEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "kernels")
_INCLUDE = re.compile(r'^#include "([^"]+)"\s*$', re.M)


@functools.lru_cache(maxsize=None)
def kernel_source(name):
    """Text of ``kernels/<name>`` with its local includes inlined (each once).

    Inlining (rather than ``#include`` by path) makes Jittor's kernel cache key
    change whenever any of the sources changes.
    """
    seen = set()

    def expand(file_name):
        if file_name in seen:
            return ""
        seen.add(file_name)
        with open(os.path.join(KERNEL_DIR, file_name)) as f:
            text = f.read().replace("#pragma once", "")
        return _INCLUDE.sub(lambda m: expand(m.group(1)), text)

    return expand(name)


def run_kernel(shape, dtype, inputs, header, src, data):
    """One jt.code call running the CPU or the CUDA variant of a kernel."""
    if jt.flags.use_cuda:
        return jt.code(shape, dtype, inputs, cuda_header=kernel_source(header + ".cuh"),
                       cuda_src=src.replace("IMPL", "cuda"), data=data)
    return jt.code(shape, dtype, inputs, cpu_header=kernel_source(header + "_cpu.h"),
                   cpu_src=src.replace("IMPL", "cpu"), data=data)


def inner_size(shape):
    """Elements per (sample, channel): the product of dims 2.."""
    return math.prod(shape[2:])
