// The viewer page: every change asks the server for a new image (api/render); the server renders one at a
// time and answers a request overtaken by a newer one with 409, which is ignored here. An uploaded image is
// projected on the server (api/projection, polled for progress); its w then becomes the source (latent=).
"use strict";
const $ = (id) => document.getElementById(id);
const client = Math.random().toString(36).slice(2);  // the server collapses waiting renders per client
let info = null;      // the model: sizes, levels per size, limits
let latest = 0;       // id of the newest request sent
let shown = 0;        // id of the request whose image is on the page
let inflight = 0;
let playing = false;

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error);
  return body;
}

function fillSelect(select, options, keep) {
  select.innerHTML = "";
  for (const [value, label] of options) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    select.appendChild(option);
  }
  if (options.some(([value]) => String(value) === String(keep))) select.value = keep;
}

const px = (level) => 4 * 2 ** level;

function levelOptions() {  // style-mixing ranges and truncation cutoffs for the chosen size
  const n = info.levels[$("size").value];
  const mix = [["none", "none"]];
  for (const [name, lo, hi] of [["coarse", 0, 1], ["middle", 2, 3], ["fine", 4, n - 1]]) {
    const top = Math.min(hi, n - 1);
    if (lo <= top) mix.push([`${lo}-${top}`, `${name} (${px(lo)}-${px(top)} px)`]);
  }
  for (let level = 0; level < n; level++) {
    const value = `${level}-${level}`;
    if (!mix.some(([known]) => known === value)) mix.push([value, `level ${level} alone (${px(level)} px)`]);
  }
  fillSelect($("mix"), mix, $("mix").value);
  const cutoff = [[n, "all levels"]];
  for (let c = n - 1; c >= 1; c--) cutoff.push([c, `levels below ${px(c)} px (coarse)`]);
  fillSelect($("cutoff"), cutoff, $("cutoff").value);
}

function query(extra) {
  const latent = extra && extra.walk ? "" : $("source").value;  // a projection renders alone: no grid, no walk
  const params = new URLSearchParams({
    ckpt: $("ckpt").value, client, size: $("size").value, seed: $("seed").value || "0", psi: $("psi").value,
    cutoff: $("cutoff").value, seed2: $("seed2").value || "0", mix: $("mix").value, noise: $("noise").value,
    grid: latent ? "1x1" : `${$("rows").value}x${$("cols").value}`,
    sefa: Array.from($("sefa").querySelectorAll("input")).map((e) => e.value).join(","),
  });
  if (latent) params.set("latent", latent);
  if (info.classes.length) params.set("class", $("class").value);
  for (const [key, value] of Object.entries(extra || {})) params.set(key, value);
  return params.toString();
}

const baseName = (path) => path.split("/").pop().replace(/\.npz$/, "");

function busy(delta) {
  inflight += delta;
  document.body.dataset.inflight = inflight;
}

async function render(extra) {
  if (!info) return false;
  const q = query(extra);
  const id = ++latest;
  const start = performance.now();
  busy(1);
  try {
    const response = await fetch(`api/render?${q}&n=${id}`);  // n: newer requests win, in any arrival order
    if (response.status === 409) {  // superseded by a newer request (counted for the tests)
      document.body.dataset.superseded = Number(document.body.dataset.superseded || 0) + 1;
      return false;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({error: response.statusText}));
      if (id === latest) status(body.error, true);
      return false;
    }
    const blob = await response.blob();
    if (id < shown) return false;
    shown = id;
    const image = $("image");
    const url = URL.createObjectURL(blob);
    await new Promise((resolve) => { image.onload = resolve; image.onerror = resolve; image.src = url; });
    const big = Math.max(image.naturalWidth, image.naturalHeight);
    const scale = big <= 512 ? Math.floor(512 / big) : 512 / big;  // whole pixels when enlarging
    image.style.width = `${image.naturalWidth * scale}px`;
    image.style.height = `${image.naturalHeight * scale}px`;
    image.style.imageRendering = big <= 512 ? "pixelated" : "auto";  // smooth when shrinking a large image
    image.dataset.query = q;
    const link = $("download");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = url;
    const source = new URLSearchParams(q).get("latent");
    link.download = source ? `${baseName(source)}.png`
      : `seed${$("seed").value}${extra && extra.walk ? "-walk" : ""}.png`;
    const ms = Number(response.headers.get("X-Render-Ms"));
    $("time").textContent = `${ms.toFixed(0)} ms to render, ${(performance.now() - start).toFixed(0)} ms round trip`;
    status(`${info.arch === "stylegan1" ? "StyleGAN 1" : "StyleGAN 2"} · ${$("size").value} px · ` +
           (extra && extra.walk ? `walk ${extra.walk} at ${extra.t}` : source ? `projection ${baseName(source)}`
             : `seed ${$("seed").value}`) + (info.classes.length ? ` · class ${$("class").value}` : ""));
    return true;
  } catch (error) {
    status(`server not reachable (${error.message})`, true);
    return false;
  } finally {
    busy(-1);
  }
}

async function loadModel() {
  status(`loading ${$("ckpt").value} (the first time: compiling the generator)...`);
  busy(1);
  try {
    info = await getJSON("api/model?" + new URLSearchParams({ckpt: $("ckpt").value, client}));
  } catch (error) {
    status(error.message, true);
    return;
  } finally {
    busy(-1);
  }
  fillSelect($("size"), info.sizes.slice().reverse().map((s) => [s, `${s} px`]), info.default_size);
  $("size").disabled = info.sizes.length < 2;
  $("arch").textContent = info.arch === "stylegan1" ? "StyleGAN 1" : "StyleGAN 2";
  const counts = Array.from({length: info.max_grid}, (_, i) => [i + 1, i + 1]);
  fillSelect($("rows"), counts, $("rows").value || 1);
  fillSelect($("cols"), counts, $("cols").value || 1);
  levelOptions();
  sefaSliders();
  fillSelect($("class"), info.classes.map((name, k) => [k, name === String(k) ? name : `${k} ${name}`]),
             $("class").value || 0);
  $("class-row").hidden = !info.classes.length;
  $("steps").max = info.max_projection_steps;
  render();
}

function sefaSliders() {  // one slider per SeFa direction of the checkpoint: a step along it, added to w
  const box = $("sefa");
  box.innerHTML = "";
  const [lo, hi] = info.sefa_range;
  for (let k = 0; k < info.sefa_directions; k++) {
    const label = document.createElement("label");
    label.innerHTML = `direction ${k} <span class="value" id="sefa${k}-value">0.0</span>` +
      `<input id="sefa${k}" type="range" min="${lo}" max="${hi}" step="0.1" value="0">`;
    box.appendChild(label);
    $(`sefa${k}`).addEventListener("input", () => {
      $(`sefa${k}-value`).textContent = Number($(`sefa${k}`).value).toFixed(1);
      render();
    });
  }
}

async function play() {  // walk through the seeds, one frame after the other
  if (playing) { playing = false; return; }
  const seeds = $("path").value.split(/[\s,]+/).filter(Boolean).map(Number);
  if (seeds.length < 2 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    status("the interpolation needs two or more seeds (whole numbers)", true);
    return;
  }
  const frames = Math.max(2, Math.min(120, Number($("frames").value) || 24));
  playing = true;
  $("play").textContent = "stop";
  for (let i = 0; playing && i <= (seeds.length - 1) * frames; i++) {
    await render({walk: seeds.join(","), t: (i / frames).toFixed(4), grid: "1x1"});
  }
  playing = false;
  $("play").textContent = "play";
}

function setSeed(value) {
  const seed = Math.max(0, value);
  $("seed").value = Number.isInteger(seed) ? seed : seed.toFixed(2);
  $("walk").value = seed;
  render();
}

async function listProjections() {  // the projected_w.npz files under runs/: sources besides the seed
  const list = await getJSON("api/projections");
  fillSelect($("source"), [["", "seed"]].concat(list.projections.map(
    (p) => [p.path, `${p.path}${p.checkpoint ? ` (${p.checkpoint}, ${p.size} px)` : ""}`])), $("source").value);
}

function projecting(state) {  // the page's projection state (for the tests too): idle, running, done, ...
  document.body.dataset.projection = state;
  $("projecting").hidden = state !== "running";
  $("project").disabled = state === "running";
}

async function project() {  // upload the chosen image; the server projects it into the checkpoint shown
  const file = $("upload").files[0];
  if (!file) { status("choose an image to project first", true); return; }
  $("target").src = URL.createObjectURL(file);
  $("target").hidden = false;
  const params = new URLSearchParams({ckpt: $("ckpt").value, client, steps: $("steps").value || info.projection_steps,
                                      w_plus: $("wplus").checked ? 1 : 0, name: file.name});
  try {
    const headers = {"Content-Type": file.type || "unknown/unknown"};  // (the server refuses a non-image type)
    const response = await fetch(`api/projection?${params}`, {method: "POST", body: file, headers});
    const body = await response.json();
    if (!response.ok) throw new Error(body.error);
    status(`projecting ${file.name} (the first projection compiles kernels: the viewer may pause a while)...`);
  } catch (error) {
    status(`projection refused: ${error.message}`, true);
    return;
  }
  projecting("running");
  while (true) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    let state;
    try {
      state = await getJSON("api/projection");
    } catch (error) {
      status(`server not reachable (${error.message})`, true);
      projecting("error");
      return;
    }
    $("progress").value = state.step / state.steps;
    $("progress-text").textContent = `step ${state.step}/${state.steps}` +
      (state.distance === null ? "" : `, distance ${state.distance.toFixed(4)}`);
    if (state.state === "running") continue;
    if (state.state === "done") {
      await listProjections();
      $("source").value = state.path;
      projecting("done");
      await render();
      status(`projected ${file.name} in ${state.steps} steps (distance ${state.distance.toFixed(4)}): ${state.path}`);
    } else {
      projecting(state.state);
      status(`projection ${state.state}: ${state.error}`, state.state === "error");
    }
    return;
  }
}

$("project").addEventListener("click", project);
$("cancel").addEventListener("click", () => fetch("api/projection", {method: "DELETE"}));
$("source").addEventListener("input", () => render());
$("class").addEventListener("input", () => render());
$("ckpt").addEventListener("change", loadModel);
$("size").addEventListener("change", () => { levelOptions(); render(); });
$("prev").addEventListener("click", () => setSeed(Math.ceil(Number($("seed").value)) - 1));
$("next").addEventListener("click", () => setSeed(Math.floor(Number($("seed").value)) + 1));
$("seed").addEventListener("input", () => { $("walk").value = $("seed").value; render(); });
$("walk").addEventListener("input", () => setSeed(Number($("walk").value)));
$("psi").addEventListener("input", () => { $("psi-value").textContent = Number($("psi").value).toFixed(2); render(); });
for (const id of ["cutoff", "seed2", "mix", "noise", "rows", "cols"]) $(id).addEventListener("input", () => render());
$("play").addEventListener("click", play);
$("sefa-reset").addEventListener("click", () => {
  for (const input of $("sefa").querySelectorAll("input")) {
    input.value = 0;
    $(`${input.id}-value`).textContent = "0.0";
  }
  render();
});

async function listCheckpoints() {
  const list = await getJSON("api/checkpoints");
  const current = $("ckpt").value;
  fillSelect($("ckpt"), list.checkpoints.map((p) => [p, p]), current || list.default);
  if (current && $("ckpt").value !== current) loadModel();  // it was removed (training keeps the newest few)
}

setInterval(() => {  // a running training adds checkpoints
  if (document.activeElement !== $("ckpt") && !playing) listCheckpoints().catch(() => {});
  if (document.activeElement !== $("source")) listProjections().catch(() => {});
}, 15000);

(async () => {
  busy(1);
  try {
    await listCheckpoints();
    await listProjections();
  } catch (error) {
    status(error.message, true);
    return;
  } finally {
    busy(-1);
  }
  loadModel();
})();
