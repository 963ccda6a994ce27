"""Mixed precision (``--fp16_res``, NVIDIA's ``num_fp16_res``): the float16 ops on CPU, the float16 StyleGAN 2
networks against float32 within float16's own error, and a short float16 training run (finite, float32
checkpoints with the usual keys, exact resume)."""
import os

import jittor as jt
import numpy as np
import pytest

import train
from conftest import rel_error, upfirdn2d_numpy
from test_stylegan2_training import TINY, rows
from test_workflow import lmdb_path  # noqa: F401  (the shared toy LMDB fixture, 4 and 8 px)

from jittor_stylegan.models.stylegan2 import Discriminator, Generator, fp16_resolution
from jittor_stylegan.ops import channel_sum, conv2d, conv_transpose2d, fused_leaky_relu, upfirdn2d
from jittor_stylegan.formats import checkpoint
from jittor_stylegan.training import optim

HALF_ULP = 2.0 ** -11  # float16's unit roundoff: rounding to it errs by at most this much, relatively


def _half(rng, *shape):
    """float32 numpy values that float16 holds exactly."""
    return rng.standard_normal(shape).astype(np.float16).astype(np.float32)


def _both(fn, *arrays):
    """fn's outputs (and the gradients of <outputs, fixed weights> wrt the inputs) run on float16 and on float32
    copies of the same float16-exact ``arrays``: ([float16 results], [float32 results]) as numpy float32."""
    results = []
    for dtype in (jt.float16, jt.float32):
        inputs = [jt.array(a).cast(dtype) for a in arrays]
        out = fn(*inputs)
        weight = jt.array(np.linspace(-1, 1, out.numel()).reshape(out.shape).astype(np.float16)).cast(dtype)
        grads = jt.grad((out * weight).sum(), inputs)
        assert out.dtype == dtype and all(g.dtype == dtype for g in grads)
        results.append([v.numpy().astype(np.float32) for v in [out] + grads])
    return results


OP_CASES = {
    "fused_leaky_relu": (lambda x, b: fused_leaky_relu(x, b), [(2, 5, 6, 7), (5,)]),
    "upfirdn2d_up": (lambda x: upfirdn2d(x, jt.array(np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 16.0), up=2,
                                         pad=(2, 1)), [(2, 3, 7, 9)]),
    "upfirdn2d_down": (lambda x: upfirdn2d(x, jt.array(np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0), down=2,
                                           pad=(1, 1)), [(2, 3, 8, 10)]),
    "channel_sum": (channel_sum, [(3, 4, 5, 6)]),
    "conv2d": (lambda x, w: conv2d(x, w, padding=1, groups=2), [(2, 4, 6, 6), (6, 2, 3, 3)]),
    "conv_transpose2d": (lambda x, w: conv_transpose2d(x, w, stride=2, groups=2), [(2, 4, 5, 5), (4, 3, 3, 3)]),
}


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_float16_op_is_the_float32_op_rounded(case):
    """Every op (and its gradient) on float16 computes in float32 and stores float16: on CPU its result is the
    float32 op's on the same values rounded to float16, bit for bit (the kernels run the float32 arithmetic in
    the same order; convolutions run oneDNN's float32 ones), but for sums of float16-stored gradients; on CUDA
    within two float16 roundings of the largest value (measured on CPU: 1.8e-4 to 4.0e-4). So against a
    float64 truth it errs by float16's rounding plus float32's error (measured here: at most 0.5 ulp of float16
    plus < 1e-6 of the largest value)."""
    fn, shapes = OP_CASES[case]
    rng = np.random.default_rng(len(case))
    arrays = [_half(rng, *s) for s in shapes]
    f16, f32 = _both(fn, *arrays)
    for i, (half, single) in enumerate(zip(f16, f32)):
        rounded = single.astype(np.float16).astype(np.float32)
        if jt.flags.use_cuda or (case == "fused_leaky_relu" and i == 2):
            # the bias gradient sums the float16-stored input gradient (measured 1.8e-4 of the largest value)
            assert rel_error(half, single) < 2 * HALF_ULP, (case, i)
        else:
            assert np.array_equal(half, rounded), (case, i, np.abs(half - rounded).max())
    if case.startswith("upfirdn2d_up"):  # against float64 truth, elementwise
        x = arrays[0].astype(np.float64)
        truth = upfirdn2d_numpy(x, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 16.0, (2, 2), (1, 1), (2, 1, 2, 1))
        err = np.abs(f16[0] - truth)
        assert np.all(err <= HALF_ULP * np.abs(truth) + 1e-6 * np.abs(truth).max())
        assert err.max() > 0  # float16 did round


def test_fp16_resolution_is_nvidia_rule():
    """max(2 ** (log2(size) + 1 - N), 8): the N highest resolutions, never 4 px."""
    assert [fp16_resolution(256, n) for n in range(7)] == [None, 256, 128, 64, 32, 16, 8]
    assert fp16_resolution(8, 4) == 8 and fp16_resolution(1024, 4) == 128
    with pytest.raises(ValueError, match="fp16_res"):
        fp16_resolution(256, -1)


def test_finite_grad_is_nvidia_nan_to_num():
    g = jt.array(np.array([np.nan, np.inf, -np.inf, 2e5, -3.5, 0.25], np.float32))
    assert optim.finite_grad(g).numpy().tolist() == [0.0, 1e5, -1e5, 2e5, -3.5, 0.25]  # finite values stay


def _network_run(G, D, params, weights, z, noise, fp16_res):
    """(image, D's scores, gradients of the scores' sum wrt every parameter) with the given weights."""
    for p, w in zip(params, weights):
        p.assign(jt.array(w))
    G.use_fp16(fp16_res)
    D.use_fp16(fp16_res)
    image = G([jt.array(z)], noise=[jt.array(n) for n in noise])[0]
    score = D(image)
    assert image.dtype == score.dtype == jt.float32
    grads = jt.grad(score.sum(), params)
    assert all(g.dtype == jt.float32 for g in grads)
    return image.numpy(), score.numpy(), [g.numpy() for g in grads]


def _errors(run, base):
    """(image, score, all gradients) errors: max-relative for the outputs, relative L2 over every gradient."""
    grads = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(run[2], base[2])) / sum(np.sum(b ** 2) for b in base[2]))
    return np.array([rel_error(run[0], base[0]), rel_error(run[1], base[1]), grads])


def test_fp16_networks_match_float32_within_float16_error():
    """G and D at 16 px with their 2 highest resolutions (8 and 16 px) in float16 against float32: forward and
    every parameter's gradient. float16's own error is measured alongside: the float32 networks run with their
    weights and inputs merely rounded to float16. The float16 networks stay within 3x of it (measured here over
    seeds 3-5: image 0.7-1.4e-3 vs 0.9-1.4e-3 for rounding alone, scores 1.0-2.1e-3 vs 0.6-1.3e-3, gradients
    0.2-0.75e-2 vs 0.4-4.2e-2 relative L2, ratios 0.13-2.5; at 32 px with fp16_res 4 over 3 seeds, ratios up to
    2.0). Single gradients of small parameters (noise strengths: sums of many cancelling terms) err more, as they
    do under rounding alone, so the gradients are compared as a whole."""
    rng = np.random.default_rng(3)
    np.random.seed(3)
    optim.seed_init(3)
    channels = {4: 32, 8: 32, 16: 16}
    G = Generator(16, style_dim=32, n_mlp=2, channels=channels, conv_clamp=256)
    D = Discriminator(16, channels=channels, conv_clamp=256)
    params = G.parameters() + D.parameters()
    weights = [p.numpy().copy() for p in params]
    z = rng.standard_normal((4, 32)).astype(np.float32)
    noise = [rng.standard_normal((4, 1, s, s)).astype(np.float32) for s in G.noise_sizes()]

    def rounded(a):
        return a.astype(np.float16).astype(np.float32)

    base = _network_run(G, D, params, weights, z, noise, 0)
    fp16 = _errors(_network_run(G, D, params, weights, z, noise, 2), base)
    rounding = _errors(_network_run(G, D, params, [rounded(w) for w in weights], rounded(z),
                                    [rounded(n) for n in noise], 0), base)
    assert np.all(fp16 > 0), fp16  # float16 did run
    assert np.all(fp16 < 3 * rounding), (fp16, rounding)
    assert fp16[0] < 8 * HALF_ULP and fp16[2] < 0.05


FP16 = ["--fp16_res", "1"]  # at 8 px: float16 at 8 px, float32 at 4 px


def test_fp16_training_is_finite_checkpoints_float32_and_resumes_exactly(lmdb_path, tmp_path):  # noqa: F811
    """4 iterations with R1 and path-length regularization in float16; the checkpoint holds float32 arrays under
    the float32 run's keys; a run killed at 3 and resumed from 2 repeats the same losses and weights."""
    run_a, run_b, run_f = (str(tmp_path / name) for name in ("a", "b", "f32"))
    train.main([lmdb_path, "--run_dir", run_a, "--iterations", "4"] + TINY + FP16)
    log = rows(run_a)
    assert len(log) == 4
    for field in ("d_loss", "g_loss", "r1", "path_length"):
        values = [float(r[field]) for r in log if r[field]]
        assert values and np.all(np.isfinite(values)), field
    meta, a = checkpoint.load(os.path.join(run_a, "checkpoint", "000004.npz"))
    assert meta["config"]["fp16_res"] == 1 and meta["networks"]["d"]["conv_clamp"] == 256

    train.main([lmdb_path, "--run_dir", run_f, "--iterations", "2"] + TINY)
    _, f32 = checkpoint.load(os.path.join(run_f, "checkpoint", "000002.npz"))
    assert set(a) == set(f32)
    for key in ("g", "d", "g_ema"):
        assert set(a[key]) == set(f32[key]), key
    for net in ("g", "d", "g_ema"):
        assert all(np.asarray(v).dtype == np.float32 for v in a[net].values()), net
        assert all(np.isfinite(v).all() for v in a[net].values()), net

    train.main([lmdb_path, "--run_dir", run_b, "--iterations", "3"] + TINY + FP16)
    train.main(["--ckpt", os.path.join(run_b, "checkpoint", "000002.npz"), "--iterations", "4", "--no_progress"])
    timing = ("seconds", "images_per_sec")
    assert [{k: v for k, v in r.items() if k not in timing} for r in rows(run_b)] == \
        [{k: v for k, v in r.items() if k not in timing} for r in log]
    _, b = checkpoint.load(os.path.join(run_b, "checkpoint", "000004.npz"))
    for net in ("g", "d", "g_ema"):
        for name in a[net]:
            np.testing.assert_array_equal(a[net][name], b[net][name], err_msg=name)
