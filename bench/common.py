"""Shared benchmark helpers: the machine header, timing, peak memory and tables.

Every figure a benchmark prints comes from the same process run, alternating the
implementations, so ratios are robust to a noisy machine while absolute times are not.
"""
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("log_silent", "1")


def nvidia_smi(query):
    """``nvidia-smi --query-gpu=<query>`` of the first GPU as a list of strings, or None."""
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    return [v.strip() for v in out[0].split(",")] if out else None


def gpu_names():
    """Names of the GPUs nvidia-smi lists ([] without a GPU or nvidia-smi)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def gpu_stack():
    """One line for a GPU machine: GPU, driver, CUDA toolkit, cuDNN, NCCL (as jittor_compat finds them); '' without."""
    gpu = nvidia_smi("name,driver_version")
    if not gpu:
        return ""
    from jittor_stylegan import jittor_compat
    home = jittor_compat.cuda_home()
    nvcc = ""
    if home:
        out = subprocess.run([os.path.join(home, "bin", "nvcc"), "--version"], capture_output=True, text=True).stdout
        nvcc = out.strip().splitlines()[-1] if out.strip() else ""
    libraries = ""
    for name, library in jittor_compat.LIBRARIES.items():
        found = jittor_compat.find_library(name, home)
        libraries += f", {library.title} " + (".".join(map(str, found["version"])) + f" from {found['where']}"
                                              if found else "not found")
    return f"GPU {gpu[0]}, driver {gpu[1]}, CUDA toolkit " + (f"{home} ({nvcc})" if home else "not found") + libraries


def fp32_peak_flops():
    """(FLOP/s, how) of the first GPU's float32 (non-tensor-core) peak: SMs x FP32 lanes per SM x 2 x max SM
    clock, from PyTorch's device properties and nvidia-smi; None without a GPU."""
    import torch

    clock = nvidia_smi("clocks.max.sm")
    if not torch.cuda.is_available() or not clock:
        return None
    props = torch.cuda.get_device_properties(0)
    lanes = 64 if (props.major, props.minor) in ((6, 0), (7, 0), (7, 2), (7, 5), (8, 0)) else 128
    peak = props.multi_processor_count * lanes * 2 * float(clock[0]) * 1e6
    return peak, f"{props.multi_processor_count} SMs x {lanes} FP32 lanes x 2 x {clock[0]} MHz"


def torch_precision(torch):
    """PyTorch under this project's GPU policy (runtime.configure): float32 convolutions use TF32 only with
    JSG_ALLOW_TF32=1, matmuls never (as Jittor's); JSG_DETERMINISTIC=1 picks deterministic cuDNN algorithms."""
    torch.backends.cudnn.allow_tf32 = os.environ.get("JSG_ALLOW_TF32") == "1"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.deterministic = os.environ.get("JSG_DETERMINISTIC") == "1"


def machine():
    """One line: date, CPU model and count, GPU if any, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = ", ".join(gpu_names())
    return (f"{datetime.date.today().isoformat()}, {cpu} x{os.cpu_count()} cores"
            f"{', GPU ' + gpu if gpu else ', no GPU'}, Python {platform.python_version()}")


def median_time(run, sync, repeats, warmup=2):
    """Median wall time of ``run()`` (followed by ``sync()``) over ``repeats`` calls after ``warmup``."""
    return median_times({"run": (run, sync)}, repeats, warmup)["run"]


def median_times(runs, repeats, warmup=2):
    """{name: median wall time} of each ``(run, sync)`` in ``runs``, timed in turn (one call of
    each per round), so that a burst of load on a noisy machine hits every implementation alike."""
    for run, sync in runs.values():
        for _ in range(warmup):
            sync(run())
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (run, sync) in runs.items():
            start = time.perf_counter()
            sync(run())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_rss_mb():
    """This process's peak resident memory (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(header, rows):
    """A Markdown table (also readable in a terminal)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
