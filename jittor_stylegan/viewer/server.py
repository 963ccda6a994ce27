"""The viewer's web server: one page (``static/``), a small JSON API and PNG renders.

Python's own ``http.server`` (threaded): nothing to install, nothing fetched from a CDN, so it works
offline and over an SSH tunnel. Every Jittor call runs on one worker thread (``Renderer``); a
client's render that is still waiting when a newer one arrives is dropped (answered 409
"superseded"), so a dragged slider renders only its newest position. Only the checkpoints of
``runs/`` and the files named at start can be opened; bad requests get a 4xx JSON message.
An uploaded image is projected (``projector.project``) by a job of that worker that lets the waiting renders
run between its steps; one at a time, cancellable, its w saved under ``runs/viewer-projections/``.
"""
import collections
import http.server
import io
import json
import math
import os
import re
import sys
import threading
import time
import traceback
import urllib.parse

import numpy as np

from .. import projector, runs, sefa
from ..images import grid, save_array
from ..sampling import Sampler, seed_latent, slerp

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PAGES = {"/": ("index.html", "text/html; charset=utf-8"), "/viewer.js": ("viewer.js", "text/javascript; charset=utf-8")}
NOISE_SEED = 0  # "constant" noise: one fixed draw, so changing the seed changes only the styles
MEAN_SEED = 0  # the truncation centre, as generate.py's default --seed
MAX_SEED = 2 ** 31 - 1
PSI_RANGE = (-1.0, 2.0)
MAX_GRID = 8  # rows and columns
MAX_WALK = 16  # seeds in an interpolation
NOISE_MODES = ("const", "random", "off")
KEPT_MODELS = 2  # loaded checkpoints kept in memory (switching back is then instant)
SEFA_DIRECTIONS = 5  # sliders for the strongest SeFa directions of the checkpoint
SEFA_RANGE = (-10.0, 10.0)  # the step along each (rosinality's apply_factor.py: --degree 5)
MAX_UPLOAD = 20 * 2 ** 20  # bytes of an image to project
PROJECTION_STEPS = 200  # a projection's default steps (projector.py's 1000 take long on a CPU)
MAX_PROJECTION_STEPS = 5000
PROJECTIONS = "viewer-projections"  # the folder under runs/ of the viewer's projections


class BadRequest(Exception):
    """A request the viewer refuses: HTTP ``status`` and a one-line message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Superseded(Exception):
    """A waiting render replaced by a newer one of the same client."""


def load_sampler(path):
    """(``sampling.Sampler`` at the largest size a checkpoint was trained to, its family's name); the
    viewer's only use of the checkpoint-loading API. Problems are BadRequest(422)."""
    from .. import loading
    try:
        loaded = loading.generator_from_checkpoint(path)
        return loading.sampler_of(loaded), loaded[1]
    except (loading.CheckpointError, ValueError) as e:
        raise BadRequest(422, str(e)) from None


class Model:
    """A checkpoint's samplers, one per size it can show (StyleGAN 1: each trained resolution, all
    sharing one generator), with the truncation centre and the constant noise."""

    def __init__(self, path):
        largest, self.arch = load_sampler(path)
        self.path, self.latent_dim = path, largest.latent_dim
        # the largest size as loading gives it (a StyleGAN 1 checkpoint mid fade-in: at its alpha)
        self.samplers = {size: largest if size == largest.size else
                         Sampler(largest.generator, size, labels=largest.labels)  # (conditional: every class)
                         for size in largest.generator.sizes() if size <= largest.size}
        self.default_size = largest.size
        self.mean = largest.mean_latent(seed=MEAN_SEED)
        self.mean.sync()  # computed now, so renders all run the same graph
        self.class_means = {}  # a conditional generator's truncation centre per class (its own mean w)
        self.classes = [str(k) if n is None else str(n) for k, n in
                        enumerate(largest.class_names or [None] * largest.c_dim)]
        self.const_noise = {size: s.noise(1, np.random.default_rng(NOISE_SEED)) for size, s in self.samplers.items()}
        self.directions = sefa_directions(largest)

    def warm_up(self):
        """Render once per size, so every kernel is compiled before the first drag (settings are
        inputs of one graph per size: see ``Sampler.images``)."""
        for size in self.samplers:
            self.render(Settings.parse({"size": [str(size)], "mix": ["0-0"], "psi": ["0.7"]}, self))

    def info(self):
        return {"path": self.path, "arch": self.arch, "sizes": sorted(self.samplers), "default_size": self.default_size,
                "levels": {size: s.levels for size, s in self.samplers.items()}, "latent_dim": self.latent_dim,
                "max_seed": MAX_SEED, "max_grid": MAX_GRID, "max_walk": MAX_WALK, "psi_range": PSI_RANGE,
                "sefa_directions": self.directions.shape[1], "sefa_range": SEFA_RANGE, "classes": self.classes,
                "projection_steps": PROJECTION_STEPS, "max_projection_steps": MAX_PROJECTION_STEPS,
                "max_upload": MAX_UPLOAD}

    def latent(self, seeds, t):
        """The latent at position ``t`` of a walk through ``seeds`` (slerp between neighbours)."""
        i = min(int(math.floor(t)), len(seeds) - 1)
        frac = t - i
        a = seed_latent(seeds[i], self.latent_dim)
        if frac == 0:
            return a
        return slerp(a, seed_latent(seeds[i + 1], self.latent_dim), frac).astype(np.float32)

    def render(self, settings):
        """The image (grid) of ``settings`` as PNG bytes and the milliseconds it took."""
        start = time.perf_counter()
        sampler = self.samplers[settings.size]
        const = self.const_noise[settings.size]
        noise = {"const": const, "off": [np.zeros_like(a) for a in const], "random": None}[settings.noise]
        mix = (seed_latent(settings.seed2, self.latent_dim), settings.mix) if settings.mix else None
        shift = sefa_shift(self.directions, settings.sefa)  # always an input, zeros or not: one graph
        labels, mean = None, self.mean
        if settings.label is not None:
            labels = [settings.label]
            if settings.label not in self.class_means:
                self.class_means[settings.label] = sampler.mean_latent(seed=MEAN_SEED, labels=labels)
            mean = self.class_means[settings.label]
        if settings.latent:
            try:
                w, w_noise = projector.load_w(settings.latent, self.latent_dim, sampler.levels,
                                              sampler.generator.noise_sizes(settings.size))
            except ValueError as e:
                raise BadRequest(422, str(e)) from None
            if settings.noise == "const" and w_noise is not None:  # the noise maps the projection found
                noise = w_noise
            w = np.broadcast_to(w[None], (1, sampler.levels, w.shape[1]))  # W and W+: one graph
            images = [sampler.images(None, noise, settings.psi, mean, mix, np.random.default_rng(), settings.cutoff,
                                     labels, shift, w=w)]
        else:
            images = [sampler.images(self.latent(seeds, t), noise, settings.psi, mean, mix, np.random.default_rng(),
                                     settings.cutoff, labels, shift) for seeds, t in settings.latents()]
        rows, cols = settings.grid
        array = grid(np.concatenate(images), cols, padding=2 if rows * cols > 1 else 0, raw=True)
        buffer = io.BytesIO()
        save_array(array, buffer)
        return buffer.getvalue(), (time.perf_counter() - start) * 1000


class Settings:
    """A render request, checked: every value in range for the model, or BadRequest(400)."""

    FIELDS = ("ckpt", "client", "n", "size", "seed", "walk", "t", "psi", "cutoff", "seed2", "mix", "noise", "grid",
              "sefa", "latent", "class")

    @classmethod
    def parse(cls, query, model):
        unknown = sorted(set(query) - set(cls.FIELDS))
        if unknown:
            raise BadRequest(400, f"unknown parameter {unknown[0]!r}; known: {', '.join(cls.FIELDS)}")
        value = {k: v[-1] for k, v in query.items()}
        self = cls()
        self.size = _number(value, "size", int, model.default_size)
        if self.size not in model.samplers:
            raise BadRequest(400, f"size {self.size} not available; this checkpoint shows {sorted(model.samplers)}")
        levels = model.samplers[self.size].levels
        self.seed = _number(value, "seed", float, 0.0, 0, MAX_SEED - 1)
        self.walk = None
        if value.get("walk"):
            self.walk = [_number({"walk": s}, "walk", int, None, 0, MAX_SEED) for s in value["walk"].split(",")]
            if not 2 <= len(self.walk) <= MAX_WALK:
                raise BadRequest(400, f"walk takes 2 to {MAX_WALK} seeds, got {len(self.walk)}")
        self.t = _number(value, "t", float, 0.0, 0, len(self.walk) - 1 if self.walk else 0)
        self.psi = _number(value, "psi", float, 1.0, *PSI_RANGE)
        self.cutoff = _number(value, "cutoff", int, levels, 0, levels)
        self.seed2 = _number(value, "seed2", int, 1, 0, MAX_SEED)
        self.mix = None
        if value.get("mix", "none") != "none":
            try:
                lo, hi = (int(v) for v in value["mix"].split("-"))
            except ValueError:
                raise BadRequest(400, f"mix must be 'none' or 'LO-HI' (levels), got {value['mix']!r}") from None
            if not 0 <= lo <= hi < levels:
                raise BadRequest(400, f"mix levels {lo}-{hi} out of range: this size has levels 0-{levels - 1}")
            self.mix = (lo, hi)
        self.noise = value.get("noise", "const")
        if self.noise not in NOISE_MODES:
            raise BadRequest(400, f"noise must be one of {', '.join(NOISE_MODES)}, got {self.noise!r}")
        try:
            self.grid = tuple(int(v) for v in value.get("grid", "1x1").split("x"))
        except ValueError:
            self.grid = ()
        if len(self.grid) != 2 or not all(1 <= v <= MAX_GRID for v in self.grid):
            raise BadRequest(400, f"grid must be ROWSxCOLS with 1 to {MAX_GRID} each, got {value.get('grid')!r}")
        steps = [s for s in value.get("sefa", "").split(",") if s]
        if len(steps) > model.directions.shape[1]:
            raise BadRequest(400, f"sefa takes up to {model.directions.shape[1]} steps, got {len(steps)}")
        self.sefa = [_number({"sefa": s}, "sefa", float, None, *SEFA_RANGE) for s in steps]
        self.latent = value.get("latent") or None  # a projected_w.npz (Viewer.handle checked where it lies)
        if self.latent and (self.walk or self.grid != (1, 1)):
            raise BadRequest(400, "a projected latent renders one image: no walk, grid 1x1")
        self.label = None
        if value.get("class"):
            if not model.classes:
                raise BadRequest(400, "class: this checkpoint is unconditional (it has no classes)")
            self.label = _number(value, "class", int, None, 0, len(model.classes) - 1)
        return self

    def latents(self):
        """(seeds, t) walks for each image: the walk, or the (fractional) seed and the next ones of a grid."""
        if self.walk:
            return [(self.walk, self.t)]
        base, frac = int(math.floor(self.seed)), self.seed - math.floor(self.seed)
        return [([base + i, base + i + 1], frac) for i in range(self.grid[0] * self.grid[1])]


def sefa_directions(sampler):
    """The strongest SeFa directions (D, k) of a sampler's generator (its style weights up to its size)."""
    return sefa.factorize(sampler.generator, sampler.size)[0][:, :SEFA_DIRECTIONS]


def sefa_shift(directions, steps):
    """The w offset (1, D) of ``steps`` along the first ``len(steps)`` directions."""
    shift = np.zeros((1, directions.shape[0]), np.float32)
    for k, step in enumerate(steps):
        shift += np.float32(step) * directions[:, k]
    return shift


def _number(value, name, kind, default, lo=None, hi=None):
    """``value[name]`` as ``kind`` within [lo, hi], or BadRequest(400)."""
    text = value.get(name)
    if text is None or text == "":
        if default is None:
            raise BadRequest(400, f"{name} is required")
        return default
    try:
        number = kind(text)
    except ValueError:
        raise BadRequest(400, f"{name} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if not math.isfinite(number) or (lo is not None and not lo <= number <= hi):
        raise BadRequest(400, f"{name} must be in [{lo}, {hi}], got {text}")
    return number


class Renderer:
    """One worker thread runs every job (all Jittor work) in turn. A job submitted under a key that
    already has one waiting replaces it (the waiting one raises Superseded), unless the waiting one is
    newer by its ``order`` (a page's request number: the browser's parallel requests may arrive out of
    order), which supersedes the one submitted."""

    def __init__(self):
        self._pending = collections.OrderedDict()
        self._lock = threading.Condition()
        threading.Thread(target=self._work, daemon=True, name="viewer-render").start()

    def submit(self, key, job, order=0, wait=True):
        """Run ``job()`` on the worker; its result, or its exception raised here (``wait`` False: return at once,
        the job handles its own outcome)."""
        done, outcome = threading.Event(), {}
        with self._lock:
            waiting = self._pending.get(key)
            if waiting and waiting[3] > order:
                raise Superseded()
            if waiting:
                del self._pending[key]
                waiting[2]["error"] = Superseded()
                waiting[1].set()
            self._pending[key] = (job, done, outcome, order)
            self._lock.notify()
        if not wait:
            return None
        done.wait()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def run_waiting(self):
        """Run the jobs waiting now; a long job (a projection) calls it on the worker between its steps."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                _, entry = self._pending.popitem(last=False)
            self._run(*entry)

    def _work(self):
        while True:
            with self._lock:
                while not self._pending:
                    self._lock.wait()
                _, entry = self._pending.popitem(last=False)
            self._run(*entry)

    @staticmethod
    def _run(job, done, outcome, _):
        try:
            outcome["result"] = job()
        except Exception as e:  # noqa: BLE001 (handed to the waiting request)
            outcome["error"] = e
        done.set()


class Projecting:
    """One projection of an uploaded image: its ``status`` (what api/projection answers) and ``cancel`` event."""

    def __init__(self, ckpt, name, steps, w_plus):
        self.cancel = threading.Event()
        self.status = {"state": "running", "ckpt": ckpt, "name": name, "step": 0, "steps": steps, "w_plus": w_plus,
                       "distance": None, "path": None, "error": None}

    def run(self, viewer, model, target):
        """Project ``target`` with the model's largest sampler, save its w (the worker runs this)."""
        sampler = model.samplers[model.default_size]
        settings = projector.Settings(num_steps=self.status["steps"], w_plus=self.status["w_plus"])

        def on_step(step, dist, images):
            self.status.update(step=step + 1, distance=dist)
            viewer.renderer.run_waiting()  # the page stays live: its renders run between the steps

        try:
            result = projector.project(sampler.generator, sampler.size, target, viewer.distance(), settings, on_step,
                                       sampler.alpha, self.cancel)
            folder = os.path.join(viewer.root, PROJECTIONS)
            os.makedirs(folder, exist_ok=True)
            path = projector.save_w(os.path.join(folder, f"{self.status['name']}.npz"), result, model.path,
                                    sampler.size)
            self.status.update(state="done", path=path)
        except projector.Cancelled as e:
            self.status.update(state="cancelled", error=str(e))
        except Exception as e:  # noqa: BLE001 (the page shows it; the terminal gets the traceback)
            traceback.print_exc()
            self.status.update(state="error", error=f"{type(e).__name__}: {e}")


class Viewer:
    """The checkpoints the viewer may open and the loaded models (used on the worker thread only), and the
    projection of an uploaded image (one at a time)."""

    def __init__(self, paths, root=runs.ROOT, vgg16=None):
        self.paths, self.root, self.vgg16 = list(paths), root, vgg16
        self.renderer = Renderer()
        self._models = collections.OrderedDict()
        self._distance = None
        self.projecting = None  # the newest Projecting
        self._starting = threading.Lock()

    def distance(self):
        """The projector's perceptual distance (``perceptual.distance_for``), built on first use."""
        if self._distance is None:
            from ..metrics import perceptual
            self._distance = perceptual.distance_for(self.vgg16)
        return self._distance

    def checkpoints(self):
        """The files named at start, then every checkpoint under ``runs/`` (listed afresh each time)."""
        return self.paths + [p for p in runs.checkpoints(self.root) if p not in self.paths]

    def model(self, path, log=None):
        """The loaded (and compiled) Model of an allowed checkpoint; runs on the worker thread."""
        if path not in self.checkpoints():
            raise BadRequest(404, f"unknown checkpoint {path!r}: the viewer opens the files named at start and "
                                  f"those under {self.root}/ (see /api/checkpoints)")
        if path in self._models:
            self._models.move_to_end(path)
            return self._models[path]
        model = Model(path)
        if log:
            log(f"viewer: compiling the generator for {', '.join(f'{s} px' for s in model.samplers)} (once per shape; "
                f"Jittor caches the kernels)")
        model.warm_up()
        self._models[path] = model
        while len(self._models) > KEPT_MODELS:
            self._models.popitem(last=False)
        return model

    def projections(self):
        """``projector.describe_w`` of every projected_w.npz under ``runs/`` (listed afresh each time)."""
        return projector.find_projections(self.root)

    def project(self, path, query, body):
        """Start projecting the uploaded image ``body`` into the checkpoint at ``path``: BadRequest 400 for bad
        parameters, 409 while another runs, 422 for a conditional checkpoint or bytes that are not an image."""
        value = {k: v[-1] for k, v in query.items()}
        unknown = sorted(set(value) - {"ckpt", "client", "steps", "w_plus", "name"})
        if unknown:
            raise BadRequest(400, f"unknown parameter {unknown[0]!r}; known: ckpt, steps, w_plus, name")
        steps = _number(value, "steps", int, PROJECTION_STEPS, 1, MAX_PROJECTION_STEPS)
        w_plus = bool(_number(value, "w_plus", int, int(projector.Settings.w_plus), 0, 1))
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", os.path.splitext(value.get("name", ""))[0]).strip("-")[:40]
        name = f"{stem or 'upload'}-{time.strftime('%Y%m%d-%H%M%S')}"
        if not self._starting.acquire(blocking=False):
            raise BadRequest(409, "a projection is starting; one at a time")
        try:
            if self.projecting and self.projecting.status["state"] == "running":
                raise BadRequest(409, f"a projection is running ({self.projecting.status['name']}); one at a time: "
                                      f"cancel it first")

            def prepare():
                model = self.model(path)
                sampler = model.samplers[model.default_size]
                if model.classes:
                    raise BadRequest(422, f"{path} is a conditional generator: projection takes unconditional ones "
                                          f"only, for now")
                try:
                    return model, projector.load_target(io.BytesIO(body), sampler.size, sampler.channels,
                                                        "the upload")[0]
                except projector.TargetError as e:
                    raise BadRequest(422, str(e)) from None

            model, target = self.renderer.submit(("projection", "prepare"), prepare)
            self.projecting = Projecting(path, name, steps, w_plus)
            self.renderer.submit(("projection", name), lambda: self.projecting.run(self, model, target), wait=False)
            return self.projecting.status
        finally:
            self._starting.release()

    def handle(self, route, query, client, method="GET", body=None):
        """(content type, body bytes, extra headers) for an API request; BadRequest for a bad one."""
        if method != "GET" and route != "/api/projection":
            raise BadRequest(405, f"{method} {route}: the viewer takes GET, and POST / DELETE api/projection")
        if route == "/api/checkpoints":
            return _json({"checkpoints": self.checkpoints(), "default": self.paths[0] if self.paths else None})
        if route == "/api/projections":
            return _json({"projections": self.projections()})
        path = query.get("ckpt", [self.paths[0] if self.paths else ""])[-1]
        if route == "/api/projection":
            if method == "POST":
                return _json(self.project(path, query, body))
            if method == "DELETE":
                if not (self.projecting and self.projecting.status["state"] == "running"):
                    raise BadRequest(409, "no projection is running")
                self.projecting.cancel.set()
            return _json(dict(self.projecting.status) if self.projecting else {"state": "idle"})
        latent = query.get("latent", [""])[-1]
        if latent and (not _inside(latent, self.root) or projector.describe_w(latent) is None):
            raise BadRequest(404, f"unknown latent {latent!r}: the viewer opens the projected_w.npz files under "
                                  f"{self.root}/ (see /api/projections)")
        if route == "/api/model":
            return _json(self.renderer.submit((client, "model"), lambda: self.model(path).info()))
        if route == "/api/render":
            def job():
                model = self.model(path)
                return model.render(Settings.parse(query, model))
            png, ms = self.renderer.submit((client, "render"), job,
                                           _number({k: v[-1] for k, v in query.items()}, "n", int, 0, 0, 2 ** 53))
            return "image/png", png, {"X-Render-Ms": f"{ms:.1f}"}
        raise BadRequest(404, f"no such page {route!r}")


def _json(document):
    return "application/json", json.dumps(document).encode(), {}


def _inside(path, root):
    """Whether ``path`` lies under the folder ``root`` (links resolved)."""
    return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


class Handler(http.server.BaseHTTPRequestHandler):
    """GET: the page, its script, and the API of ``Viewer.handle``; POST (an image to project) and DELETE
    api/projection; errors as JSON."""

    server_version = "jittor-stylegan-viewer"
    viewer = None  # set by serve()

    def do_GET(self):  # noqa: N802 (http.server's name)
        self._serve()

    do_DELETE = do_GET  # noqa: N815

    def do_POST(self):  # noqa: N802
        """An image to project: its bytes, up to MAX_UPLOAD, with an image/* Content-Type."""
        if urllib.parse.urlsplit(self.path).path != "/api/projection":
            return self._send_json(405, {"error": "POST takes api/projection only (an image to project)"})
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            return self._send_json(411, {"error": "an upload needs its Content-Length"})
        if int(length) > MAX_UPLOAD:  # answered unread (HTTP/1.0: the connection closes)
            return self._send_json(413, {"error": f"the upload is {length} bytes; the viewer takes up to {MAX_UPLOAD}"})
        body = self.rfile.read(int(length))
        kind = self.headers.get("Content-Type", "")
        if not kind.startswith("image/"):
            return self._send_json(415, {"error": f"the upload must be an image (Content-Type image/...), got "
                                                  f"{kind!r}"})
        self._serve(body)

    def do_PUT(self):  # noqa: N802
        self._send_json(405, {"error": "the viewer takes GET, and POST / DELETE api/projection"})

    do_PATCH = do_PUT  # noqa: N815

    def _serve(self, body=None):
        try:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True, strict_parsing=bool(url.query),
                                          max_num_fields=50)
        except ValueError as e:
            return self._send_json(400, {"error": f"malformed query ({e})"})
        if url.path in PAGES and self.command == "GET":
            name, kind = PAGES[url.path]
            with open(os.path.join(STATIC, name), "rb") as f:
                return self._send(200, kind, f.read())
        client = query.get("client", [self.client_address[0]])[-1][:64]
        try:
            kind, body, headers = self.viewer.handle(url.path, query, client, self.command, body)
        except BadRequest as e:
            return self._send_json(e.status, {"error": str(e)})
        except Superseded:
            return self._send_json(409, {"error": "superseded by a newer request", "superseded": True})
        except Exception as e:  # noqa: BLE001 (the server keeps running; the terminal gets the traceback)
            traceback.print_exc()
            return self._send_json(500, {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"})
        self._send(200, kind, body, headers)

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (malformed request lines, headers) as JSON, not an HTML page."""
        self._send_json(code, {"error": message or explain or "bad request"})

    def _send_json(self, status, document):
        self._send(status, "application/json", json.dumps(document).encode())

    def _send(self, status, kind, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's name): only failed requests
        if len(args) > 1 and str(args[1])[:1] in "45":
            sys.stderr.write(f"viewer: {self.address_string()} {format % args}\n")


def serve(paths, host="127.0.0.1", port=7860, vgg16=None):
    """Load and compile the first checkpoint, then serve until interrupted (``vgg16``: NVIDIA's vgg16.pt for the
    projections' distance, else the offline one). Returns on Ctrl-C; a first checkpoint that does not load is a
    BadRequest."""
    def log(line):
        print(line, flush=True)

    viewer = Viewer(paths, vgg16=vgg16)
    Handler.viewer = viewer
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    try:
        viewer.renderer.submit(("start", "model"), lambda: viewer.model(paths[0], log))
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        log(f"viewer: serving {paths[0]} at http://{shown}:{server.server_address[1]}/ (Ctrl-C stops)")
        server.serve_forever()
    except KeyboardInterrupt:
        log("viewer: stopped")
    finally:
        server.server_close()
