"""The CUDA kernels in kernels/ compile with nvcc for sm_80 and sm_90 (no GPU needed).

Every launcher is instantiated for float, half and double, so a CUDA mistake fails
CI even on machines without a GPU. Skipped, with the reason, where nvcc is absent.
"""
import os
import shutil
import subprocess

import pytest

from jittor_stylegan.ops import KERNEL_DIR

NVCC = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if os.path.isfile("/usr/local/cuda/bin/nvcc") else None)

INSTANTIATIONS = """
#include "channel_sum.cuh"
#include "fused_leaky_relu.cuh"
#include "upfirdn2d.cuh"
#define INSTANTIATE(T) \\
    template void jsg::fused_leaky_relu_cuda<T>(const T*, const T*, T*, const jsg::LeakyReLUParams&); \\
    template void jsg::leaky_relu_grad_cuda<T>(const T*, const T*, T*, const jsg::LeakyReLUParams&); \\
    template void jsg::upfirdn2d_cuda<T>(const T*, const jsg::Acc<T>::type*, T*, const jsg::UpFirDn2dParams&); \\
    template void jsg::channel_sum_cuda<T>(const T*, T*, const jsg::ChannelSumParams&);
INSTANTIATE(float)
INSTANTIATE(__half)
INSTANTIATE(double)
"""


@pytest.mark.skipif(NVCC is None, reason="nvcc not found: CUDA kernel sources not compiled")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_kernels_compile(tmp_path, arch):
    source = tmp_path / "kernels_tu.cu"
    source.write_text(INSTANTIATIONS)
    cmd = [NVCC, "-std=c++17", "-Werror", "all-warnings", "-I", KERNEL_DIR, "-c", str(source),
           "-o", str(tmp_path / "kernels.o"), "-gencode", f"arch=compute_{arch[3:]},code={arch}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
