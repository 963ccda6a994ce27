"""Generator-only files (``python -m jittor_stylegan.export CKPT OUT.npz --g_ema_only [--float16]``): the EMA
generator of a training checkpoint (or an NVIDIA pickle) alone, read by every sampling path and refused by
``train.py --ckpt``; and ``generate.py --seeds`` with no extra option on checkpoints of both families."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

import generate
import train
import video_write
from jittor_stylegan import export, loading
from jittor_stylegan.formats import checkpoint

FIXTURES = os.path.join(REPO, "tests", "fixtures")
ARCHS = ("stylegan1", "stylegan2")
SIZE = 8  # the fixtures' runs trained up to 8 px


def training_checkpoint(arch):
    return os.path.join(FIXTURES, f"fresh_{arch}.npz")  # a 5-iteration run's checkpoint: G, D, G_ema, Adams


def seed_pngs(path, out, seeds="0-15"):
    """``generate.py --path PATH --seeds SEEDS``, no other option: {name: pixels}."""
    generate.main(["--path", path, "--seeds", seeds, "--outdir", str(out)])
    return {name: np.asarray(Image.open(out / name)) for name in sorted(os.listdir(out))}


@pytest.fixture(scope="module")
def lmdb_8(tmp_path_factory):
    from jittor_stylegan.data import prepare
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(5)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    out = str(tmp_path_factory.mktemp("mdb") / "mdb")
    prepare(out, str(folder), max_size=SIZE, progress=False)
    return out


@pytest.mark.parametrize("arch", ARCHS)
def test_seeds_work_on_every_family(arch, tmp_path):
    """NVIDIA's command, --noise-mode const by default, on a training checkpoint: StyleGAN 1 stores no constant
    noise, so its maps are one fixed draw: the same images in every process, and the noise is used."""
    from jittor_stylegan.sampling import Sampler
    ours = seed_pngs(training_checkpoint(arch), tmp_path / "a", "0-3")
    assert sorted(ours) == [f"seed{s:04d}.png" for s in range(4)] and ours["seed0000.png"].shape == (SIZE, SIZE, 3)
    done = subprocess.run([sys.executable, os.path.join(REPO, "generate.py"), "--path", training_checkpoint(arch),
                           "--seeds", "0-3", "--outdir", str(tmp_path / "b")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(np.array_equal(np.asarray(Image.open(tmp_path / "b" / name)), pixels) for name, pixels in ours.items())
    generator = loading.generator_from_checkpoint(training_checkpoint(arch))[0]
    sampler = Sampler(generator, SIZE)
    maps = sampler.fixed_noise(2)
    assert [m.shape for m in maps] == [(2, 1, s, s) for s in generator.noise_sizes(SIZE)]
    assert all(np.array_equal(a, b) for a, b in zip(maps, sampler.fixed_noise(2)))
    z = np.random.RandomState(0).randn(2, sampler.latent_dim).astype(np.float32)
    assert not np.array_equal(sampler.images(z, maps), sampler.images(z, [np.zeros_like(m) for m in maps]))


@pytest.mark.parametrize("arch", ARCHS)
def test_generator_only_file_samples_everywhere(arch, tmp_path, lmdb_8, capsys):
    source = training_checkpoint(arch)
    full, half = str(tmp_path / "g_ema.npz"), str(tmp_path / "g_ema16.npz")
    export.main([source, full, "--g_ema_only"])
    export.main([source, half, "--g_ema_only", "--float16"])
    assert f"wrote {half} (" in capsys.readouterr().out
    # Only the EMA generator, a third of the checkpoint or less; float16 on disk: half the array bytes.
    key = "g_running" if arch == "stylegan1" else "g_ema"
    meta, tensors = checkpoint.load(source)
    stored = {}
    for path, dtype in ((full, np.float32), (half, np.float16)):
        with zipfile.ZipFile(path) as z:
            assert {n.split("/")[1] for n in z.namelist() if n.startswith("t/")} == {key}
        with np.load(path) as raw:
            arrays = [raw[k] for k in raw.files if k != checkpoint.META_KEY]
            assert {a.dtype for a in arrays} == {np.dtype(dtype)}
            stored[path] = sum(a.nbytes for a in arrays)
    assert os.path.getsize(full) < os.path.getsize(source) / 3 and stored[half] * 2 == stored[full]
    g_meta, g_tensors = checkpoint.load(half)
    assert g_meta[checkpoint.GENERATOR_ONLY] and g_meta[checkpoint.FLOAT16] and g_meta["progress"] == meta["progress"]
    assert all(a.dtype == np.float32 for a in g_tensors[key].values())  # cast back at load
    for name, value in tensors[key].items():
        assert np.array_equal(checkpoint.load(full)[1][key][name], value), name
        assert np.allclose(g_tensors[key][name], value, rtol=1e-3, atol=1e-4), name

    # generate.py --seeds and the grids: the float32 file samples as the training checkpoint; float16 close
    seeds = seed_pngs(full, tmp_path / "seeds")
    assert len(seeds) == 16
    assert all(np.array_equal(a, b) for a, b in zip(seeds.values(), seed_pngs(source, tmp_path / "src").values()))
    rounded = seed_pngs(half, tmp_path / "seeds16")
    grey = np.stack([np.abs(a.astype(int) - b) for a, b in zip(seeds.values(), rounded.values())])
    assert grey.max() <= 3 and grey.mean() < 0.5  # measured: at most 3 grey levels in 64 images of these networks
    generate.main(["--path", half, "--size", str(SIZE), "--out", str(tmp_path / "grids"), "--n_mixing", "1",
                   "--frames", "2"])
    assert os.path.exists(tmp_path / "grids" / "sample_mixing_coarse.png")
    with pytest.raises(SystemExit, match="does not match"):
        generate.main(["--path", half, "--size", str(2 * SIZE)])
    video = str(tmp_path / "interp.mp4")
    video_write.main(["--ckpt", half, "--size", str(SIZE), "--out", video, "--seeds", "1", "2", "--frames", "2"])
    assert os.path.getsize(video) > 0
    from jittor_stylegan.viewer import server
    model = server.Model(half)
    png, _ = model.render(server.Settings.parse({"seed": ["3"], "psi": ["0.7"]}, model))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and model.default_size == SIZE
    import calc_metrics as metrics
    capsys.readouterr()
    metrics.main(["--path", half, "--data", lmdb_8, "--size", str(SIZE), "--metrics", "swd", "--no_cache", "--json"])
    assert json.loads(capsys.readouterr().out)["swd"] > 0

    # train.py --ckpt: one line saying what the file is
    with pytest.raises(SystemExit) as stop:
        train.main(["--ckpt", half])
    assert "holds only the generator" in str(stop.value) and "\n" not in str(stop.value)


def test_generator_only_file_of_an_nvidia_pickle(tmp_path):
    pkl = os.path.join(FIXTURES, "nvidia_clamp_fp16_grey.pkl")
    export.main([pkl, str(tmp_path / "all.npz")])
    export.main([pkl, str(tmp_path / "g_ema.npz"), "--g_ema_only"])
    assert os.path.getsize(tmp_path / "g_ema.npz") < os.path.getsize(tmp_path / "all.npz") / 2
    generator = loading.generator_from_checkpoint(str(tmp_path / "g_ema.npz"))[0]
    assert generator.config["conv_clamp"] == 0.5 and generator.w_avg is not None
    assert seed_pngs(str(tmp_path / "g_ema.npz"), tmp_path / "a", "0-3").keys() == \
        seed_pngs(str(tmp_path / "all.npz"), tmp_path / "b", "0-3").keys()
    for name, pixels in seed_pngs(str(tmp_path / "g_ema.npz"), tmp_path / "c", "0-3").items():
        assert np.array_equal(pixels, np.asarray(Image.open(tmp_path / "b" / name))), name
    with pytest.raises(SystemExit) as stop:
        train.main(["--ckpt", str(tmp_path / "all.npz")])
    assert "no training state" in str(stop.value)


def test_export_errors(tmp_path, capsys):
    source = training_checkpoint("stylegan2")
    (tmp_path / "text").write_text("not a checkpoint")
    out = str(tmp_path / "x")
    for argv, message in [([source, out + ".npz", "--float16"], "give --g_ema_only and a .npz name"),
                          ([source, out + ".pt", "--g_ema_only", "--float16"], "give --g_ema_only and a .npz name"),
                          ([source, out + ".npz"], "it exports with --g_ema_only, to a .npz"),
                          ([source, out + ".txt", "--g_ema_only"], "give a .npz"),
                          ([str(tmp_path / "missing.npz"), out + ".npz", "--g_ema_only"], "no file at"),
                          ([str(tmp_path / "text"), out + ".npz", "--g_ema_only"], "neither an NVIDIA network pickle")]:
        with pytest.raises(SystemExit) as stop:
            export.main(argv)
        said = capsys.readouterr().err.strip() if stop.value.code == 2 else str(stop.value.code)  # 2: argparse's
        assert message in said.splitlines()[-1], (argv, said)
    assert os.listdir(tmp_path) == ["text"]  # nothing written
