"""Device selection happens before `import jittor`, without any environment variable."""
import os
import subprocess
import sys

import pytest

from jittor_stylegan import runtime


def run_python(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("JSG_DEVICE", "nvcc_path")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=600)


@pytest.mark.skipif(runtime.gpu_visible(), reason="this machine has a GPU")
def test_import_without_gpu_chooses_cpu():
    result = run_python("import jittor_stylegan.ops, jittor as jt; print(jittor_stylegan.DEVICE, jt.flags.use_cuda)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["cpu", "0"]


def test_forced_cpu_and_bad_device():
    assert runtime.choose_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="JSG_DEVICE"):
        runtime.choose_device("tpu")
    result = run_python("import jittor_stylegan", JSG_DEVICE="gpu0")
    assert result.returncode != 0 and "JSG_DEVICE must be one of" in result.stderr


def test_debian_onednn_is_linked_idempotently(tmp_path):
    first = runtime.link_debian_dnnl(str(tmp_path / "dnnl"))
    if first == "missing":
        pytest.skip("libdnnl-dev not installed")
    assert first.startswith("linked") and (tmp_path / "dnnl" / "lib" / "libmkldnn.so").exists()
    assert (tmp_path / "dnnl" / "include" / "dnnl.hpp").exists()
    assert runtime.link_debian_dnnl(str(tmp_path / "dnnl")) == "present"
