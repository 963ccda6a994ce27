"""NVIDIA's StyleGAN 2 pickles (issue 22): read without running them, the same outputs as NVIDIA's code.

The fixtures (tests/fixtures/nvidia_*.pkl, nvidia_expected.npz) were made by NVIDIA's own networks.py
(tests/fixtures/make_nvidia_pickles.py, float32 and float64, ``force_fp32=True``, constant noise).
float64 parity is bounded by 1e-6, not the 1e-9 of the rosinality fixtures: NVIDIA demodulates the raw
weight (rosinality, and this project, the weight times its 1/sqrt(fan-in) gain), so the 1e-8 epsilon
weighs differently; measured 1e-8 .. 2e-8 on the generator (1e-15 with NVIDIA's placement of the
epsilon), 1e-15 on D.
"""
import os
import pickle
import subprocess
import sys

import jittor as jt
import numpy as np
import pytest
from PIL import Image

from conftest import FLOAT32_FORWARD_TOL, REPO, rel_error
from jittor_stylegan import loading
from jittor_stylegan.formats import nvidia

FIXTURES = os.path.join(REPO, "tests", "fixtures")
VARIANTS = ("skip_resnet", "clamp_fp16_grey", "d_orig")
FLOAT64_NVIDIA_TOL = 1e-6


def fixture(name):
    return os.path.join(FIXTURES, f"nvidia_{name}.pkl")


@pytest.fixture(scope="module")
def expected():
    with np.load(os.path.join(FIXTURES, "nvidia_expected.npz")) as data:
        return dict(data)


def _persistence_record(meta):
    """A pickle of torch_utils.persistence's reconstruction record around ``meta``, written by hand."""
    body = pickle.dumps(meta, protocol=2)
    return b"\x80\x02ctorch_utils.persistence\n_reconstruct_persistent_obj\n" + body[2:-1] + b"\x85R."


def test_crafted_pickles_run_nothing(tmp_path):
    marker = tmp_path / "marker"
    # The embedded module source would write the marker if NVIDIA's loader ran it; here it is ignored.
    src = f"open({str(marker)!r}, 'w').write('ran')\nclass Generator: pass\n"
    record = tmp_path / "persistent.pkl"
    record.write_bytes(_persistence_record(dict(type="class", version=4, module_src=src, class_name="Generator",
                                                state={"z_dim": 8})))
    obj = nvidia.read_pickle(str(record))
    assert isinstance(obj, nvidia.Persistent) and obj.class_name == "Generator" and obj["z_dim"] == 8
    with pytest.raises(loading.CheckpointError, match="not an NVIDIA StyleGAN 2 network pickle"):
        loading.generator_from_checkpoint(str(record))

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": Payload(), "dnnlib": 1}))
    with pytest.raises(nvidia.NvidiaPickleError, match=r"refusing to load the global (posix|os)\.system"):
        nvidia.read_pickle(str(evil))
    with pytest.raises(loading.CheckpointError, match=r"refusing to load the global (posix|os)\.system"):
        loading.generator_from_checkpoint(str(evil))
    assert not marker.exists()


def test_other_pickles_get_one_line(tmp_path):
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"G_ema": [1, 2], "dnnlib": "x"}))
    tf = tmp_path / "tf.pkl"  # the head of a TensorFlow pickle of NVIDIA's stylegan2
    tf.write_bytes(b"\x80\x03cdnnlib.tflib.network\nNetwork\nq\x00)\x81q\x01}q\x02b.")
    errors = {}
    for path in (plain, tf):
        with pytest.raises(loading.CheckpointError) as info:
            loading.generator_from_checkpoint(str(path))
        errors[path.name] = str(info.value)
    assert "not an NVIDIA StyleGAN 2 network pickle (it holds a dict of G_ema, dnnlib" in errors["plain.pkl"]
    assert "refusing to load the global dnnlib.tflib.network.Network" in errors["tf.pkl"]
    assert "TensorFlow" in errors["tf.pkl"]
    assert all("\n" not in e for e in errors.values())


def test_unsupported_knobs_are_named():
    data = nvidia.snapshot(fixture("skip_resnet"))
    data["D"].child("b32").state["architecture"] = "skip"
    with pytest.raises(nvidia.NvidiaPickleError, match=r"D: architecture 'skip' \(only resnet and orig"):
        nvidia.discriminator(data["D"])
    with pytest.raises(nvidia.NvidiaPickleError, match="rosinality's discriminator is resnet only"):
        from jittor_stylegan import export
        export.export_torch(nvidia.networks(fixture("d_orig")), "unused.pt")
    data["G_ema"].state["c_dim"] = 10
    with pytest.raises(nvidia.NvidiaPickleError, match=r"c_dim=10 but no mapping.embed"):
        nvidia.generator(data["G_ema"])
    data["G_ema"].child("synthesis").child("b8").state["architecture"] = "resnet"
    data["G_ema"].state["c_dim"] = 0
    with pytest.raises(nvidia.NvidiaPickleError, match="synthesis architecture 'resnet' \\(only skip"):
        nvidia.generator(data["G_ema"])


def test_knobs_read_from_the_pickle():
    nets = nvidia.networks(fixture("clamp_fp16_grey"))
    g_args, g_state, w_avg = nets["G_ema"]
    assert g_args == dict(size=32, style_dim=16, n_mlp=8, lr_mlp=0.01, blur_kernel=(1, 3, 3, 1), image_channels=1,
                          channels={4: 16, 8: 16, 16: 16, 32: 8}, conv_clamp=0.5)
    assert nets["D"][0] == dict(size=32, blur_kernel=(1, 3, 3, 1), image_channels=1,
                                channels={32: 8, 16: 16, 8: 16, 4: 16}, conv_clamp=0.5, architecture="resnet")
    assert w_avg.shape == (16,) and np.abs(w_avg).max() > 0.1  # non-zero: the truncation centre
    assert g_state["noises.noise_0"].shape == (1, 1, 4, 4) and g_state["noises.noise_6"].shape == (1, 1, 32, 32)
    assert "noises.noise_7" not in g_state


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_parity_with_nvidia(variant, dtype, expected):
    nets = nvidia.networks(fixture(variant))
    g = nvidia.build_generator(*nets["G_ema"], dtype=dtype)
    d = nvidia.build_discriminator(*nets["D"], dtype=dtype)
    bound = FLOAT64_NVIDIA_TOL if dtype == "float64" else FLOAT32_FORWARD_TOL
    w = g.mapping(jt.array(expected[f"{variant}/z"]).cast(dtype))
    centre = jt.array(g.w_avg).cast(dtype)
    noise = [jt.array(n).cast(dtype) for n in g.fixed_noise()]
    for psi in (1.0, 0.7):
        image = g([centre + psi * (w - centre)], input_is_latent=True, noise=noise)[0].numpy()
        assert rel_error(image, expected[f"{variant}/{dtype}/images_psi{psi}"]) <= bound, psi
    scores = d(jt.array(expected[f"{variant}/d_images"]).cast(dtype)).numpy()
    assert rel_error(scores, expected[f"{variant}/{dtype}/scores"]) <= bound


@pytest.mark.parametrize("variant,psi", [("skip_resnet", 1.0), ("clamp_fp16_grey", 0.7)])
def test_generate_seeds_as_nvidia(tmp_path, variant, psi, expected):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, os.path.join(REPO, "generate.py"), "--path", fixture(variant),
                           "--seeds", "0-7", "--trunc", str(psi), "--noise-mode", "const", "--outdir", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for seed in range(8):
        ours = np.asarray(Image.open(out / f"seed{seed:04d}.png"), np.int16)
        theirs = expected[f"{variant}/seeds_psi{psi}/{seed}"].astype(np.int16)
        assert np.abs(ours.reshape(theirs.shape) - theirs).max() <= 1, seed


@pytest.fixture(scope="module")
def lmdb_32(tmp_path_factory):
    import prepare_data
    from test_workflow import write_images
    root = tmp_path_factory.mktemp("data32")
    write_images(root / "images", n=8)
    prepare_data.main([str(root / "images"), "--out", str(root / "mdb"), "--max_size", "32", "--n_worker", "1"])
    return str(root / "mdb")


def _images(g, z, noise):
    return g([jt.array(z).float32()], noise=[jt.array(n) for n in noise])[0].numpy()


def test_fine_tuning_starts_from_the_pickle(lmdb_32, tmp_path, expected, capsys):
    import train
    pkl = fixture("skip_resnet")
    common = [lmdb_32, "--arch", "stylegan2", "--resume", pkl, "--batch_default", "4", "--sample_every", "1000",
              "--ckpt_every", "1000", "--sample_rows", "2", "--sample_cols", "2", "--no_progress"]
    start = train.main(common + ["--iterations", "0", "--run_dir", str(tmp_path / "a")])
    family = start.family
    assert family.cfg["max_size"] == 32 and family.cfg["code_size"] == 32 and family.cfg["n_mlp"] == 2
    z, noise = expected["skip_resnet/z"], family.G_ema.fixed_noise()
    for g in (family.G, family.G_ema):  # the fixture's G and G_ema hold the same weights
        assert rel_error(_images(g, z, noise), expected["skip_resnet/float32/images_psi1.0"]) <= FLOAT32_FORWARD_TOL
    scores = family.D(jt.array(expected["skip_resnet/d_images"]).float32()).numpy()
    assert rel_error(scores, expected["skip_resnet/float32/scores"]) <= FLOAT32_FORWARD_TOL

    # --freezed 4: fromrgb and the first block's conv0, conv1 and skip stay as the pickle has them.
    tuned = train.main(common + ["--iterations", "2", "--freezed", "4", "--run_dir", str(tmp_path / "b")]).family
    d_args, d_state = nvidia.networks(pkl)["D"]
    moved = {name: float(np.abs(p.numpy() - d_state[name]).max()) for name, p in tuned.D.named_parameters()}
    frozen = [n for n in moved if n.startswith(("convs.0.", "convs.1."))]
    assert len(frozen) == 7 and all(moved[n] == 0 for n in frozen)
    assert all(moved[n] > 0 for n in moved if n not in frozen)
    # D 'orig' (no skip layers): --freezed 3 is fromrgb and the first block's conv0, conv1.
    pkl_orig = fixture("d_orig")
    orig = train.main([a if a != pkl else pkl_orig for a in common]
                      + ["--iterations", "1", "--freezed", "3", "--run_dir", str(tmp_path / "o")]).family
    d_state = nvidia.networks(pkl_orig)["D"][1]
    moved = {name: float(np.abs(p.numpy() - d_state[name]).max()) for name, p in orig.D.named_parameters()}
    frozen = [n for n in moved if n.startswith(("convs.0.", "convs.1."))]
    assert len(frozen) == 6 and all(moved[n] == 0 for n in frozen) and moved["convs.2.conv1.0.weight"] > 0
    with pytest.raises(SystemExit, match="makes 32 px images"):
        train.main(common + ["--max_size", "16", "--run_dir", str(tmp_path / "c")])
    with pytest.raises(SystemExit):
        train.main(["--ckpt", pkl])
    assert "is an NVIDIA network pickle: start a run from it with DATA --arch stylegan2 --resume" in \
        capsys.readouterr().err


def test_export(tmp_path, expected):
    from jittor_stylegan import export
    from jittor_stylegan.formats import rosinality
    pkl = fixture("clamp_fp16_grey")
    export.main([pkl, str(tmp_path / "x.npz")])
    generator, arch, _ = loading.generator_from_checkpoint(str(tmp_path / "x.npz"))
    assert arch == "stylegan2"
    ours = nvidia.build_generator(*nvidia.networks(pkl)["G_ema"])
    assert np.array_equal(generator.w_avg, ours.w_avg)
    assert generator.config["conv_clamp"] == 0.5
    z, noise = expected["clamp_fp16_grey/z"], generator.fixed_noise()
    assert rel_error(_images(generator, z, noise), expected["clamp_fp16_grey/float32/images_psi1.0"]) \
        <= FLOAT32_FORWARD_TOL
    with pytest.raises(SystemExit, match="conv_clamp=0.5 has no place in rosinality's networks"):
        export.main([pkl, str(tmp_path / "x.pt")])
    pytest.importorskip("torch")
    export.main([pkl, str(tmp_path / "x.pt"), "--drop_conv_clamp"])
    state = rosinality.network_states(rosinality.read_torch(str(tmp_path / "x.pt")))["g_ema"]
    arch, args = rosinality.generator_shapes(state)
    assert arch == "stylegan2" and args["n_mlp"] == 8 and args["image_channels"] == 1
    for name, value in nvidia.networks(pkl)["G_ema"][1].items():
        assert np.array_equal(state[name], value), name


def test_tensor_records_stay_inside_their_storage():
    storage = np.arange(6, dtype=np.float32)
    assert nvidia._rebuild_tensor(storage, 1, (2, 2), (2, 1)).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(nvidia.NvidiaPickleError, match="reaching past its storage"):
        nvidia._rebuild_tensor(storage, 2, (2, 3), (3, 1))
    with pytest.raises(nvidia.NvidiaPickleError, match="a tensor record of"):
        nvidia._rebuild_tensor(storage, 0, (1 << 20, 1 << 20), (0, 0))
