"""The latent-space viewer: the sampler settings it adds (truncation cutoff, psi > 1, per-level
mixing) against the models' own forward, the render queue's collapsing, and the page in a real
browser (Debian's chromium driven by Selenium) whose decoded pixels must equal the sampler's."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))
import bench_viewer  # noqa: E402  (the benchmark's checkpoint writer)
from jittor_stylegan.sampling import Sampler, seed_latent
from jittor_stylegan.viewer import server

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WIDTHS = {"stylegan1": dict(code_size=16, n_mlp=2, channel_base=64, max_channels=16),
          "stylegan2": dict(code_size=16, n_mlp=2, channel_multiplier=1, max_channels=16)}
SCREENSHOTS = os.environ.get("JSG_VIEWER_SCREENSHOTS")  # also copy the screenshots here (README's picture)


def tiny_generator(arch, size):
    """A seeded untrained generator with visible noise (its strengths start at 0) and its config."""
    generator, cfg = bench_viewer.untrained_generator(arch, size, WIDTHS[arch], seed=3)
    for name, p in generator.named_parameters():
        if "noise" in name:
            p.assign(p + 0.3)
    return generator, cfg


def write_checkpoint(path, arch, size):
    return bench_viewer.save_generator(path, arch, *tiny_generator(arch, size))


@pytest.mark.parametrize("arch", ["stylegan1", "stylegan2"])
def test_sampler_settings_match_the_models_forward(arch):
    import jittor as jt
    generator, _ = tiny_generator(arch, 16)
    sampler = Sampler(generator, 16)
    assert sampler.levels == 3
    rng = np.random.default_rng(0)
    z, source = seed_latent(4, 16), seed_latent(5, 16)
    noise = sampler.noise(1, rng)
    mean = sampler.mean_latent()
    mixed = sampler.images(z, noise, 0.6, mean, mix=(source, (1, 2)))
    noise_vars = [jt.array(a) for a in noise]
    if arch == "stylegan1":  # the model's own truncation and mixing_range
        expected = generator([jt.array(z), jt.array(source)], noise=noise_vars, step=2, mean_style=mean,
                             style_weight=0.6, mixing_range=(1, 2)).numpy()
    else:  # truncate both, crossover at latent index 2 (levels 1-2 from the source)
        expected = generator([jt.array(z), jt.array(source)], noise=noise_vars, inject_index=2, truncation=0.6,
                             truncation_latent=mean, randomize_noise=False)[0].numpy()
    assert np.abs(mixed - expected).max() < 1e-6
    plain = sampler.images(z, noise)
    assert np.array_equal(sampler.images(z, noise, 0.6, mean, cutoff=0), plain)  # truncation at no level
    assert np.array_equal(sampler.images(z, noise, 1.0, mean), plain)
    assert np.array_equal(sampler.images(z, noise, mix=(z, (0, 2))), plain)
    # psi 2 pushes styles away from the mean: the image moves away from the truncated ones
    far, near = sampler.images(z, noise, 2.0, mean), sampler.images(z, noise, 0.0, mean)
    assert np.abs(far - near).mean() > np.abs(plain - near).mean() > 1e-3
    # a cutoff truncates only the coarse levels: between none and all
    coarse = sampler.images(z, noise, 0.0, mean, cutoff=1)
    assert 1e-3 < np.abs(coarse - plain).mean() and 1e-3 < np.abs(coarse - near).mean()


def test_render_queue_runs_the_newest_waiting_request():
    renderer = server.Renderer()
    started, release, results = threading.Event(), threading.Event(), {}

    def slow():
        started.set()
        release.wait(10)
        return "first"

    def submit(name, key, job, order=0):
        try:
            results[name] = renderer.submit(key, job, order)
        except server.Superseded:
            results[name] = "superseded"

    threads = [threading.Thread(target=submit, args=("first", "a", slow))]
    threads[0].start()
    assert started.wait(10)
    for name, key in [("second", "a"), ("third", "a"), ("other", "b"), ("fourth", "a")]:
        threads.append(threading.Thread(target=submit, args=(name, key, lambda n=name: n)))
        threads[-1].start()
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == {"first": "first", "second": "superseded", "third": "superseded", "other": "other",
                       "fourth": "fourth"}
    # Requests of one page that arrive out of order: the newer by number wins, whichever came first.
    started.clear()
    release.clear()
    results.clear()
    threads = [threading.Thread(target=submit, args=("busy", "c", slow))]
    threads[0].start()
    assert started.wait(10)
    for name, order in [("n5", 5), ("n3", 3)]:
        threads.append(threading.Thread(target=submit, args=(name, "c", lambda n=name: n, order)))
        threads[-1].start()
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == {"busy": "first", "n5": "n5", "n3": "superseded"}
    with pytest.raises(ZeroDivisionError):  # a failing job fails its request, not the worker
        renderer.submit("a", lambda: 1 / 0)
    assert renderer.submit("a", lambda: "still running") == "still running"


def test_cli_errors(tmp_path):
    def run(*argv):
        done = subprocess.run([sys.executable, os.path.join(REPO, "viewer.py"), *argv], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout + done.stderr

    code, out = run()
    assert code == 1 and "viewer: no runs/<run>/checkpoint/ found" in out
    code, out = run("--path", "missing.npz", "--host", "0.0.0.0", "--port", "0")
    assert code == 1 and "viewer: no checkpoint at missing.npz" in out and "Traceback" not in out
    assert "WARNING: listening on '0.0.0.0'" in out


# --- the page in a real browser ---------------------------------------------------------------------

def start_viewer(folder, *argv):
    """``python viewer.py --port 0 ARGV`` in ``folder``: (process, url, what it printed up to the URL)."""
    process = subprocess.Popen([sys.executable, os.path.join(REPO, "viewer.py"), "--port", "0", *argv], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if found:
            threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()  # keep it unblocked
            return process, found.group(1), "".join(lines)
    raise AssertionError("the viewer did not start:\n" + "".join(lines))


def stop(process):
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def viewer_url(tmp_path_factory):
    """``python viewer.py --port 0`` in a folder whose runs/ holds a StyleGAN 1 (4-16 px) and a StyleGAN 2
    (16 px) checkpoint; yields (url, folder)."""
    folder = tmp_path_factory.mktemp("viewer")
    write_checkpoint(str(folder / "runs" / "sg2" / "checkpoint" / "000002.npz"), "stylegan2", 16)
    time.sleep(0.05)
    write_checkpoint(str(folder / "runs" / "sg1" / "checkpoint" / "000002.npz"), "stylegan1", 16)  # the newest
    process, url, printed = start_viewer(folder)
    assert "using runs/sg1/checkpoint/000002.npz" in printed
    yield url, folder
    stop(process)


def get(url):
    """(status, content type, body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def test_bad_requests_get_4xx_and_the_server_keeps_answering(viewer_url):
    url, _ = viewer_url
    for query, status, message in [
            ("seed=abc", 400, "seed must be a number"), ("psi=2.5", 400, "psi must be in [-1.0, 2.0]"),
            ("mix=1-7", 400, "mix levels 1-7 out of range"), ("mix=coarse", 400, "mix must be"),
            ("grid=0x3", 400, "grid must be"), ("size=12", 400, "size 12 not available"),
            ("noise=loud", 400, "noise must be"), ("walk=3&t=0", 400, "walk takes 2"),
            ("x=1", 400, "unknown parameter"), ("sefa=1,2,3,4,5,6", 400, "sefa takes up to 5 steps"),
            ("sefa=11", 400, "sefa must be in [-10.0, 10.0]"),
            ("ckpt=../../etc/passwd", 404, "unknown checkpoint"), ("seed=1&&=", 400, "malformed query")]:
        code, kind, body = get(f"{url}api/render?{query}")
        assert (code, kind) == (status, "application/json"), query
        assert message in json.loads(body)["error"], (query, body)
    assert get(url + "nothing")[0] == 404
    code, kind, body = get(f"{url}api/render?seed=1")
    assert (code, kind) == (200, "image/png") and body[:8] == b"\x89PNG\r\n\x1a\n"


def test_foreign_files_named_on_the_command_line(viewer_url, tmp_path):
    """A rosinality StyleGAN 2 .pt and an NVIDIA pickle (a test fixture made by NVIDIA's code), both named with
    --path: listed, and rendered as the sampler renders them (the pickle truncated towards its w_avg)."""
    from jittor_stylegan.formats import rosinality
    from jittor_stylegan.images import to_uint8
    from jittor_stylegan.loading import sampler_for_size
    from PIL import Image
    _, folder = viewer_url
    generator, _ = tiny_generator("stylegan2", 16)  # the weights of runs/sg2's checkpoint
    rosinality.save_torch_checkpoint(str(tmp_path / "tiny.pt"), g_ema=generator)
    pkl = os.path.join(REPO, "tests", "fixtures", "nvidia_skip_resnet.pkl")
    write_checkpoint(str(tmp_path / "not-named.npz"), "stylegan2", 16)
    process, url, _ = start_viewer(folder, "--path", str(tmp_path / "tiny.pt"), "--path", pkl)
    try:
        listed = json.loads(get(url + "api/checkpoints")[2])
        assert listed["checkpoints"] == [str(tmp_path / "tiny.pt"), pkl, "runs/sg1/checkpoint/000002.npz",
                                         "runs/sg2/checkpoint/000002.npz"]
        for path, sampler in ((str(tmp_path / "tiny.pt"), Sampler(generator, 16)), (pkl, sampler_for_size(pkl))):
            code, _, body = get(url + "api/render?" + urllib.parse.urlencode({"ckpt": path, "seed": 3, "psi": 0.7}))
            assert code == 200, body
            image = sampler.images(seed_latent(3, sampler.latent_dim),
                                   sampler.noise(1, np.random.default_rng(server.NOISE_SEED)), 0.7,
                                   sampler.mean_latent(seed=server.MEAN_SEED))
            with Image.open(io.BytesIO(body)) as png:
                assert np.array_equal(np.asarray(png), to_uint8(image)[0]), path
        code, _, body = get(url + "api/render?" + urllib.parse.urlencode({"ckpt": str(tmp_path / "not-named.npz")}))
        assert code == 404 and "unknown checkpoint" in json.loads(body)["error"]
    finally:
        stop(process)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    assert not missing, f"{missing} missing: ./setup.sh --test installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,720"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Page:
    """The viewer page in the browser: set controls as a user does, read back the shown image."""

    def __init__(self, driver, shots):
        self.driver, self.shots = driver, shots

    def wait_idle(self, timeout=60):
        """Until no request is in flight and an image is shown; returns the image's query."""
        end = time.time() + timeout
        while time.time() < end:
            state = self.driver.execute_script(
                "return [document.body.dataset.inflight, document.getElementById('image').dataset.query || '',"
                " document.getElementById('status').className, document.getElementById('status').textContent]")
            assert state[2] != "error", state[3]
            if state[0] == "0" and state[1]:
                return dict(urllib.parse.parse_qsl(state[1]))
            time.sleep(0.05)
        raise AssertionError(f"the page did not settle: {state}")

    def set(self, element_id, value):
        """Set an input or a select and fire its input event (as typing or choosing does)."""
        self.driver.execute_script(
            "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
            "e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change'));", element_id, str(value))
        return self.wait_idle()

    def pixels(self):
        """The shown image decoded by the browser (canvas at its natural size), (H, W, 3) uint8."""
        data = self.driver.execute_script(
            "const img = document.getElementById('image'); const c = document.createElement('canvas');"
            "c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext('2d');"
            "g.drawImage(img, 0, 0);"
            "return [c.width, c.height, Array.from(g.getImageData(0, 0, c.width, c.height).data)];")
        width, height, values = data
        return np.array(values, np.uint8).reshape(height, width, 4)[..., :3]

    def shot(self, name):
        path = os.path.join(self.shots, f"{name}.png")
        self.driver.save_screenshot(path)
        if SCREENSHOTS:
            os.makedirs(SCREENSHOTS, exist_ok=True)
            shutil.copy(path, os.path.join(SCREENSHOTS, f"viewer-{name}.png"))
        return path


def expected(sampler, mean, query, directions):
    """What generate.py's sampler gives for a page query (uint8, (H, W, 3)); ``directions``: the checkpoint's
    SeFa directions."""
    from jittor_stylegan.images import to_uint8
    seed = float(query["seed"])
    base, frac = int(np.floor(seed)), seed - np.floor(seed)
    z = seed_latent(base, sampler.latent_dim)
    if frac:
        from jittor_stylegan.sampling import slerp
        z = slerp(z, seed_latent(base + 1, sampler.latent_dim), frac).astype(np.float32)
    mix = None
    if query["mix"] != "none":
        lo, hi = (int(v) for v in query["mix"].split("-"))
        mix = (seed_latent(int(query["seed2"]), sampler.latent_dim), (lo, hi))
    noise = sampler.noise(1, np.random.default_rng(server.NOISE_SEED))
    if query["noise"] == "off":
        noise = [np.zeros_like(a) for a in noise]
    steps = [float(v) for v in query.get("sefa", "").split(",") if v]
    shift = sum(np.float32(step) * directions[:, k] for k, step in enumerate(steps)) if steps else None
    images = sampler.images(z, noise, float(query["psi"]), mean, mix, cutoff=int(query["cutoff"]),
                            shift=None if shift is None else shift[None])
    return to_uint8(images)[0]


def test_page_in_a_browser(viewer_url, tmp_path):
    from jittor_stylegan.loading import sampler_for_size
    url, folder = viewer_url
    print(f"\nviewer screenshots: {tmp_path}")
    sg1 = os.path.join("runs", "sg1", "checkpoint", "000002.npz")
    samplers = {size: sampler_for_size(str(folder / sg1), size) for size in (8, 16)}
    mean = samplers[16].mean_latent(seed=server.MEAN_SEED)
    directions = server.sefa_directions(samplers[16])
    driver = browser()
    try:
        driver.get(url)
        page = Page(driver, str(tmp_path))
        query = page.wait_idle()
        settings = (query["ckpt"], query["size"], query["seed"], query["psi"], query["mix"])
        assert settings == (sg1, "16", "0", "1", "none")
        assert driver.find_element("id", "arch").text == "StyleGAN 1"
        first = page.pixels()
        assert first.shape == (16, 16, 3) and first.std() > 3  # an image, not a flat colour
        assert np.array_equal(first, expected(samplers[16], mean, query, directions))
        page.shot("1-start")

        shown = [first]
        for element_id, value, name in [("seed", 7, "2-seed7"), ("psi", 0.5, "3-psi0.5"), ("cutoff", 2, None),
                                        ("mix", "0-1", "4-mix-coarse"), ("seed2", 11, None),
                                        ("walk", 7.5, "5-seed7.5"), ("sefa0", 5, "5b-sefa0"), ("sefa1", -4, None)]:
            query = page.set(element_id, value)
            image = page.pixels()
            assert not any(np.array_equal(image, before) for before in shown), f"{element_id} changed nothing"
            assert np.array_equal(image, expected(samplers[16], mean, query, directions)), query
            shown.append(image)
            if name:
                page.shot(name)
        settings = (query["seed"], query["psi"], query["cutoff"], query["seed2"], query["mix"], query["sefa"])
        assert settings == ("7.50", "0.5", "2", "11", "0-1", "5,-4,0,0,0")
        timing = driver.find_element("id", "time").text
        assert re.fullmatch(r"\d+ ms to render, \d+ ms round trip", timing), timing
        link = driver.find_element("id", "download")
        assert link.get_attribute("href").startswith("blob:") and link.get_attribute("download") == "seed7.50.png"

        query = page.set("noise", "off")
        assert np.array_equal(page.pixels(), expected(samplers[16], mean, query, directions))
        assert not np.array_equal(page.pixels(), shown[-1])
        page.set("noise", "const")

        page.set("path", "3, 4")  # the interpolation plays 3 -> 4 in 3 frames and stops at seed 4
        page.set("frames", 2)
        driver.find_element("id", "play").click()
        end = time.time() + 30
        while driver.find_element("id", "play").text != "play" and time.time() < end:
            time.sleep(0.05)
        query = page.wait_idle()
        assert (query["walk"], query["t"]) == ("3,4", "1.0000")
        assert np.array_equal(page.pixels(), expected(samplers[16], mean, dict(query, seed="4"), directions))

        query = page.set("size", 8)  # StyleGAN 1's resolution step
        assert np.array_equal(page.pixels(), expected(samplers[8], mean, query, directions))
        page.set("size", 16)
        page.set("rows", 2)
        query = page.set("cols", 3)
        grid = page.pixels()
        assert grid.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
        for i in range(6):  # seeds 7.5, 8.5, ... row-major
            r, c = divmod(i, 3)
            cell = grid[2 + r * 18:18 + r * 18, 2 + c * 18:18 + c * 18]
            assert np.array_equal(cell, expected(samplers[16], mean, dict(query, seed=str(7.5 + i)), directions))
        page.shot("6-grid")

        page.set("cols", 4)  # a slower render (16 images) while psi is dragged through 20 values
        page.set("rows", 4)
        driver.execute_script(
            "const psi = document.getElementById('psi');"
            "for (let i = 0; i < 20; i++) { psi.value = (i / 20).toFixed(2); psi.dispatchEvent(new Event('input')); }")
        query = page.wait_idle()
        superseded = int(driver.execute_script("return document.body.dataset.superseded"))
        assert query["psi"] == "0.95" and 10 <= superseded <= 19, (query, superseded)  # the newest renders
        grid = page.pixels()
        assert grid.shape == (4 * 18 + 2, 4 * 18 + 2, 3)
        assert np.array_equal(grid[2 + 3 * 18:18 + 3 * 18, 2 + 3 * 18:18 + 3 * 18],
                              expected(samplers[16], mean, dict(query, seed=str(7.5 + 15)), directions))
        page.set("rows", 1)
        page.set("cols", 1)
        page.set("psi", 0.5)

        query = page.set("ckpt", os.path.join("runs", "sg2", "checkpoint", "000002.npz"))  # the other family
        assert driver.find_element("id", "arch").text == "StyleGAN 2" and query["size"] == "16"
        sg2 = sampler_for_size(str(folder / query["ckpt"]))
        assert np.array_equal(page.pixels(), expected(sg2, sg2.mean_latent(seed=server.MEAN_SEED), query,
                                                      server.sefa_directions(sg2)))
        page.shot("7-stylegan2")
    finally:
        driver.quit()
