"""fused_leaky_relu and upfirdn2d: custom Jittor kernel vs the same math composed from
Jittor ops vs rosinality's PyTorch native path, forward and forward+backward, on the shapes
StyleGAN 1 and 2 use.

    .venv/bin/python bench/bench_kernels.py [--repeats 10] [--quick] [--only fused_leaky_relu|upfirdn2d]
        [--impls custom,composed,torch] [--baseline_kernels DIR]

The three implementations are timed in turn, one call each per round (median over rounds).
GB/s counts the minimal traffic: every input read once and every output written once
(forward: x and out; forward+backward: additionally grad_out and grad_x).
``--baseline_kernels DIR`` adds the custom ops built from the kernel sources in DIR (another
revision's kernels/, e.g. ``git archive REV kernels | tar -x -C /tmp/old``), timed in turn
with the current ones: a before/after comparison that a noisy machine cannot skew.
"""
import argparse
import functools
import os

import common  # noqa: F401  (sets up paths and quiet Jittor logs before the imports below)
from jittor_stylegan import runtime

# the device options decide Jittor's configuration, which must precede `import jittor` below
runtime.configure_from_args(runtime.add_device_arguments(argparse.ArgumentParser(add_help=False))
                            .parse_known_args()[0])

import numpy as np  # noqa: E402

import jittor as jt  # noqa: E402
from jittor_stylegan import ops  # noqa: E402
from jittor_stylegan.ops import loader  # noqa: E402

import torch  # noqa: E402
import torch_ops  # noqa: E402

common.torch_precision(torch)

SG2_KERNEL = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0
SG1_BLUR = np.outer([1, 2, 1], [1, 2, 1]) / 16.0

# (name, shape); fused_leaky_relu has a bias per channel, scale sqrt(2), slope 0.2
LRELU_CASES = [
    ("G/D 8px x512", (16, 512, 8, 8)),
    ("32px x512", (16, 512, 32, 32)),
    ("64px x256", (16, 256, 64, 64)),
    ("128px x128", (16, 128, 128, 128)),
    ("256px x64", (16, 64, 256, 256)),
]
# (name, shape, kernel, up, down, pad)
UPFIRDN_CASES = [
    ("SG1 blur 32px x512", (16, 512, 32, 32), SG1_BLUR, 1, 1, (1, 1)),
    ("SG1 blur 64px x256", (16, 256, 64, 64), SG1_BLUR, 1, 1, (1, 1)),
    ("SG1 blur 128px x128", (16, 128, 128, 128), SG1_BLUR, 1, 1, (1, 1)),
    ("SG2 upsample 16->32 x512", (16, 512, 16, 16), SG2_KERNEL, 2, 1, (2, 1)),
    ("SG2 upsample 64->128 x256", (16, 256, 64, 64), SG2_KERNEL, 2, 1, (2, 1)),
    ("SG2 blur after up-conv 33px x512", (16, 512, 33, 33), SG2_KERNEL * 4, 1, 1, (1, 1)),
    ("SG2 blur before down-conv 64px x256", (16, 256, 64, 64), SG2_KERNEL, 1, 1, (2, 2)),
    ("SG2 downsample 64->32 x256", (16, 256, 64, 64), SG2_KERNEL, 1, 2, (1, 1)),
    ("SG2 downsample 256->128 x64", (16, 64, 256, 256), SG2_KERNEL, 1, 2, (1, 1)),
]
QUICK = {"G/D 8px x512", "64px x256", "SG1 blur 64px x256", "SG2 upsample 64->128 x256", "SG2 downsample 64->32 x256"}


def jt_sync(out):
    jt.sync(list(out) if isinstance(out, (list, tuple)) else [out])


DEVICE = "cuda" if jt.flags.use_cuda else "cpu"


def torch_sync(out):
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def baseline_sources(folder):
    """A stand-in for ``loader.kernel_source`` that reads the kernel sources in ``folder``."""
    read = loader.kernel_source.__wrapped__

    @functools.lru_cache(maxsize=None)
    def source(name):
        current, loader.KERNEL_DIR = loader.KERNEL_DIR, os.path.abspath(folder)
        try:
            return read(name)
        finally:
            loader.KERNEL_DIR = current
    return source


def with_sources(source, fn):
    """``fn`` with ops' kernels built from ``source`` (Jittor creates its ops, forward and
    backward, during the call)."""
    def run(*args, **kwargs):
        current, loader.kernel_source = loader.kernel_source, source
        try:
            return fn(*args, **kwargs)
        finally:
            loader.kernel_source = current
    return run


def implementations(kind, case, baseline=None):
    """{name: (forward, forward+backward)} closures for one case, and (input bytes, output bytes);
    with ``baseline`` (a kernel source reader) also the custom op built from its sources."""
    rng = np.random.default_rng(0)
    shape = case[1]
    x_np = rng.standard_normal(shape, dtype=np.float32)
    if kind == "fused_leaky_relu":
        b_np = rng.standard_normal(shape[1], dtype=np.float32)
        args_np = (x_np, b_np)
        fns = {"custom": ops.fused_leaky_relu, "composed": ops.fused_leaky_relu_ref, "torch": torch_ops.fused_leaky_relu}
        extra = {}
    else:
        _, _, kernel, up, down, pad = case
        args_np = (x_np,)
        fns = {"custom": ops.upfirdn2d, "composed": ops.upfirdn2d_ref, "torch": torch_ops.upfirdn2d}
        extra = dict(up=up, down=down, pad=pad)
    if baseline is not None:
        fns["baseline"] = fns["custom"]
    result = {}
    for name, fn in fns.items():
        if name == "torch":
            args = [torch.tensor(a, device=DEVICE, requires_grad=True) for a in args_np]
            kw = dict(extra, kernel=torch.tensor(case[2], dtype=torch.float32, device=DEVICE)) if extra else {}
            out = fn(*args, **kw).detach().cpu()
            g_out = torch.randn(out.shape, device=DEVICE)

            def forward(fn=fn, args=args, kw=kw):
                with torch.no_grad():
                    return fn(*args, **kw)

            def both(fn=fn, args=args, kw=kw, g_out=g_out):
                out = fn(*args, **kw)
                return [out] + list(torch.autograd.grad(out, args, g_out))
            result[name] = (forward, both, out.numpy())
        else:
            def wrap(f, name=name):
                return with_sources(baseline, f) if name == "baseline" else f
            args = [jt.array(a) for a in args_np]
            kw = dict(extra, kernel=jt.array(case[2].astype(np.float32))) if extra else {}
            out = wrap(fn)(*args, **kw).numpy()
            g_out = jt.array(np.random.default_rng(1).standard_normal(out.shape, dtype=np.float32))

            def forward(fn=fn, args=args, kw=kw):
                return fn(*args, **kw)

            def both(fn=fn, args=args, kw=kw, g_out=g_out):  # the output too: Jittor would skip an unused forward
                out = fn(*args, **kw)
                return [out] + list(jt.grad((out * g_out).sum(), args))
            result[name] = (wrap(forward), wrap(both), out)
    ref = result["torch"][2]
    for name, (_, _, out) in result.items():
        err = np.abs(out - ref).max() / np.abs(ref).max()
        assert err < 1e-5, f"{kind} {case[0]}: {name} differs from torch by {err:.2e}"
    n_in = sum(a.size for a in args_np) * 4
    return {k: v[:2] for k, v in result.items()}, n_in, result['torch'][2].size * 4


IMPLS = ("custom", "composed", "torch", "baseline")


def _cell(num, den=1.0, scale=1.0):
    """``num / den * scale`` with 2 decimals, or "-" where a time is missing (not timed)."""
    return "-" if num is None or den is None else f"{num / den * scale:.2f}"


def run(kind, cases, repeats, timed, columns, baseline):
    """Table rows of the ``columns`` implementations; only the ``timed`` ones are timed (the others show "-")."""
    rows = []
    for case in cases:
        impls, n_in, n_out = implementations(kind, case, baseline)
        for mode, index, traffic in (("fwd", 0, n_in + n_out), ("fwd+bwd", 1, 2 * (n_in + n_out))):
            t = common.median_times({name: (fns[index], torch_sync if name == "torch" else jt_sync)
                                     for name, fns in impls.items() if name in timed}, repeats)
            custom = t.get("custom")
            rows.append([case[0], mode] + [_cell(t.get(k), scale=1e3) for k in columns]
                        + [_cell(traffic / 1e9, custom)] + [_cell(t.get(k), custom) for k in columns[1:]])
            print(" | ".join(rows[-1]), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="one representative shape per op and configuration")
    parser.add_argument("--only", choices=["fused_leaky_relu", "upfirdn2d"], help="one op's table")
    parser.add_argument("--impls", default="custom,composed,torch",
                        help="comma-separated implementations to time (every one is still checked against torch)")
    parser.add_argument("--baseline_kernels", metavar="DIR",
                        help="also time the custom ops built from the kernel sources in DIR (another revision's "
                        "kernels/), in turn with the current ones")
    runtime.add_device_arguments(parser)  # read above, before Jittor was imported
    args = parser.parse_args()
    timed = set(args.impls.split(","))
    if not timed <= set(IMPLS[:3]):
        parser.error(f"--impls: unknown implementation in {args.impls!r}")
    columns, baseline = IMPLS[:3], None
    if args.baseline_kernels:
        if not os.path.isfile(os.path.join(args.baseline_kernels, "upfirdn2d_cpu.h")):
            parser.error(f"--baseline_kernels: no kernel sources in {args.baseline_kernels}")
        columns, baseline = IMPLS, baseline_sources(args.baseline_kernels)
        timed.add("baseline")
    stack = common.gpu_stack() if jt.flags.use_cuda else ""
    print(f"# bench_kernels: {common.machine()}{'; ' + stack if stack else ''}, Jittor {jt.__version__} "
          f"({'CUDA' if jt.flags.use_cuda else 'CPU'}), PyTorch {torch.__version__}, float32, median of {args.repeats}"
          + (f", TF32 {'on' if args.allow_tf32 else 'off'}" if jt.flags.use_cuda else ""))
    header = (["case", "pass"] + [f"{k} ms" for k in columns] + ["custom GB/s"]
              + [f"{k}/custom" for k in columns[1:]])
    for kind, cases in (("fused_leaky_relu", LRELU_CASES), ("upfirdn2d", UPFIRDN_CASES)):
        if args.only not in (None, kind):
            continue
        cases = [c for c in cases if not args.quick or c[0] in QUICK]
        print(f"\n## {kind}\n")
        rows = run(kind, cases, args.repeats, timed, columns, baseline)
        print("\n" + common.table(header, rows), flush=True)


if __name__ == "__main__":
    main()
