"""The viewer's editing: an uploaded image projected on the server (api/projection: progress, one at a time,
cancel, 4xx for bad uploads), its w as the source of SeFa edits, and the class selector of a conditional
checkpoint, in the browser (test_viewer.py's tiny checkpoints, Selenium and Chromium)."""
import http.client
import json
import os
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

from test_viewer import WIDTHS, Page, bench_viewer, browser, get, start_viewer, stop, write_checkpoint
from jittor_stylegan import projector
from jittor_stylegan.images import to_uint8
from jittor_stylegan.sampling import render_w, seed_latent
from jittor_stylegan.viewer import server

SG2 = os.path.join("runs", "sg2", "checkpoint", "000002.npz")
COND = os.path.join("runs", "cond", "checkpoint", "000002.npz")
CLASSES = 3


@pytest.fixture(scope="module")
def viewer(tmp_path_factory):
    """``viewer.py --path runs/sg2/...`` in a folder whose runs/ also holds a conditional StyleGAN 2 (3 classes),
    both 16 px; yields (url, folder, a PNG to upload)."""
    folder = tmp_path_factory.mktemp("editing")
    write_checkpoint(str(folder / SG2), "stylegan2", 16)
    bench_viewer.save_generator(str(folder / COND), "stylegan2", *bench_viewer.untrained_generator(
        "stylegan2", 16, dict(WIDTHS["stylegan2"], c_dim=CLASSES), seed=4))
    target = folder / "target image.png"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(target)
    process, url, _ = start_viewer(folder, "--path", SG2)
    yield url, folder, str(target)
    stop(process)


def request(url, method, route, body=b"", headers=None):
    """(status, JSON answer) of a request with ``body`` (http.client: any Content-Length may be claimed)."""
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=60)
    connection.request(method, route, body, headers or {})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def wait_projection(url, timeout=300):
    """The projection's status once it is no longer running."""
    end = time.time() + timeout
    while time.time() < end:
        status = request(url, "GET", "/api/projection")[1]
        if status["state"] != "running":
            return status
        time.sleep(0.1)
    raise AssertionError(f"the projection still runs: {status}")


def test_projection_api(viewer):
    url, folder, target = viewer
    png = open(target, "rb").read()
    for route, body, kind, status, message in [
            ("/api/projection", b"not an image", "image/png", 422, "the upload is not an image"),
            ("/api/projection", png[:60], "image/png", 422, "the upload is not an image"),
            ("/api/projection", png, "text/plain", 415, "the upload must be an image"),
            ("/api/projection?steps=0", png, "image/png", 400, "steps must be in [1, 5000]"),
            ("/api/projection?w_plus=yes", png, "image/png", 400, "w_plus must be an integer"),
            ("/api/projection?seed=1", png, "image/png", 400, "unknown parameter 'seed'"),
            ("/api/projection?" + urllib.parse.urlencode({"ckpt": COND}), png, "image/png", 422,
             "is a conditional generator"),
            ("/api/render", png, "image/png", 405, "POST takes api/projection only")]:
        code, answer = request(url, "POST", route, body, {"Content-Type": kind})
        assert code == status and message in answer["error"], (route, answer)
    code, answer = request(url, "POST", "/api/projection", b"", {"Content-Type": "image/png",
                                                               "Content-Length": str(server.MAX_UPLOAD + 1)})
    assert code == 413 and "the viewer takes up to" in answer["error"]
    assert request(url, "GET", "/api/projection")[1] == {"state": "idle"}
    assert request(url, "DELETE", "/api/projection")[0] == 409  # nothing to cancel

    code, answer = request(url, "POST", "/api/projection?steps=5000", png, {"Content-Type": "image/png"})
    assert code == 200 and (answer["state"], answer["steps"], answer["w_plus"]) == ("running", 5000, False)
    code, second = request(url, "POST", "/api/projection?steps=5", png, {"Content-Type": "image/png"})
    assert code == 409 and "a projection is running" in second["error"]
    with urllib.request.urlopen(url + "api/render?seed=2", timeout=300) as response:  # (a first run compiles)
        assert response.headers["Content-Type"] == "image/png"  # renders go on between the projection's steps
    assert request(url, "DELETE", "/api/projection")[0] == 200
    status = wait_projection(url)
    assert status["state"] == "cancelled" and status["error"].startswith("cancelled at step") and status["path"] is None
    assert request(url, "GET", "/api/projections")[1] == {"projections": []}  # nothing saved
    code, answer = request(url, "POST", "/api/projection?steps=2&w_plus=1&name=a%20b.png", png,
                           {"Content-Type": "image/png"})
    assert code == 200 and answer["name"].startswith("a-b-")
    status = wait_projection(url)
    assert status["state"] == "done" and status["step"] == 2 and status["distance"] > 0
    path = status["path"]
    assert path == os.path.join("runs", server.PROJECTIONS, answer["name"] + ".npz")
    listed = request(url, "GET", "/api/projections")[1]["projections"]
    assert listed == [{"path": path, "checkpoint": SG2, "size": 16}]
    w, noise = projector.load_w(str(folder / path), 16, 3, [4, 8, 8, 16, 16])  # W+: a w per level
    assert w.shape == (3, 16) and len(noise) == 5
    for query, status in [("latent=runs/sg2/checkpoint/000002.npz", 404), ("latent=../x.npz", 404),
                          (f"latent={path}&grid=2x2", 400), ("class=1", 400)]:
        assert get(f"{url}api/render?{query}")[0] == status, query


def test_page_projects_edits_and_selects_classes(viewer, tmp_path):
    import jittor as jt
    from jittor_stylegan.loading import sampler_for_size
    url, folder, target = viewer
    sampler, conditional = sampler_for_size(str(folder / SG2)), sampler_for_size(str(folder / COND))
    directions = server.sefa_directions(sampler)
    driver = browser()
    try:
        driver.get(url)
        page = Page(driver, str(tmp_path))
        page.wait_idle()
        assert not driver.find_element("id", "class-row").is_displayed()  # unconditional: no class selector
        seed_image = page.pixels()

        def project(steps):
            driver.find_element("id", "upload").send_keys(target)
            page.set("steps", steps)
            driver.find_element("id", "project").click()

        project(5000)  # cancelled from the page
        end = time.time() + 300  # (a first run compiles the projection's kernels)
        while driver.execute_script("return document.getElementById('progress-text').textContent") == "":
            assert time.time() < end, "no progress shown"
            time.sleep(0.05)
        assert driver.find_element("id", "projecting").is_displayed() and driver.find_element("id", "target") \
            .is_displayed()
        page.shot("8-projecting")
        driver.find_element("id", "cancel").click()
        while driver.execute_script("return document.body.dataset.projection") == "running":
            assert time.time() < end, "the cancel did not stop the projection"
            time.sleep(0.05)
        assert driver.execute_script("return document.body.dataset.projection") == "cancelled"
        assert "projection cancelled: cancelled at step" in driver.find_element("id", "status").text

        project(3)
        end = time.time() + 300
        while driver.execute_script("return document.body.dataset.projection") != "done":
            assert time.time() < end, driver.find_element("id", "status").text
            time.sleep(0.05)
        query = page.wait_idle()
        path = query["latent"]
        assert path.startswith(os.path.join("runs", server.PROJECTIONS, "target-image-"))
        assert driver.find_element("id", "source").get_attribute("value") == path
        w, noise = projector.load_w(str(folder / path), 16, 3, sampler.generator.noise_sizes(16))
        projected = page.pixels()
        assert w.shape == (1, 16) and not np.array_equal(projected, seed_image)
        assert np.array_equal(projected, to_uint8(render_w(sampler, w[None], noise))[0])  # the projection's image
        page.shot("9-projected")

        query = page.set("sefa0", 5)  # an edit of the projection
        edited = page.pixels()
        shift = np.float32(5) * directions[:, 0][None]
        assert query["sefa"] == "5,0,0,0,0" and np.abs(edited.astype(int) - projected).mean() > 1
        assert np.array_equal(edited, to_uint8(render_w(sampler, w[None] + shift, noise))[0])
        page.shot("10-projected-sefa0")
        page.set("sefa0", 0)
        query = page.set("mix", "0-1")  # the second seed's styles at the two coarse levels of the projection
        mixed = np.repeat(w[None], 3, 1)
        mixed[:, :2] = sampler.generator.mapping(jt.array(seed_latent(int(query["seed2"]), 16))).numpy()
        assert np.array_equal(page.pixels(), to_uint8(render_w(sampler, mixed, noise))[0])
        page.set("mix", "none")
        page.set("source", "")

        query = page.set("ckpt", COND)
        assert driver.find_element("id", "class-row").is_displayed() and query["class"] == "0"
        options = driver.execute_script("return Array.from(document.getElementById('class').options, o => o.text)")
        assert options == ["0", "1", "2"]
        page.set("psi", 0.5)  # truncated towards each class's own mean w
        images = []
        for label in range(CLASSES):
            query = page.set("class", label)
            mean = conditional.mean_latent(seed=server.MEAN_SEED, labels=[label])
            expected = conditional.images(seed_latent(0, 16), conditional.noise(1, np.random.default_rng(
                server.NOISE_SEED)), float(query["psi"]), mean, labels=[label])
            images.append(page.pixels())
            assert np.array_equal(images[-1], to_uint8(expected)[0]), label
        assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])
        page.shot("11-class")
    finally:
        driver.quit()
