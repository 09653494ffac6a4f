// mlplab playground: the page. Vanilla JS + canvas; all training happens on the server
// (mlplab's NumPy backprop), this file only sends settings and draws frames.
"use strict";

const $ = (id) => document.getElementById(id);
const COLOR0 = [242, 142, 28];   // class 0 (orange)
const COLOR1 = [30, 111, 196];   // class 1 (blue)
const TEST_COLOR = "#7b3fb5";
const LR_COLOR = "#c0692b";      // the learning rate on the cost chart
const MAX_POINTS = 1500;         // chart points kept per series (older ones thinned)
const MAX_COLUMNS = 240;         // frames shown in the activation strips
const MIN_COLUMNS = 40;

const state = {
  options: null,
  sid: null,
  snap: null,        // last snapshot: config, data, bounds, layer sizes
  frame: null,       // last frame
  hidden: [],        // [{units, activation}] as edited
  csvSource: null,   // "file" | "upload" | null
  playing: false,
  series: null,
  frameTimes: [],
  frames: 0,
  ready: false,
};

// ------------------------------------------------------------------ server calls
let chain = Promise.resolve();
function enqueue(fn) {           // one request at a time per tab, in order
  const p = chain.then(fn);
  chain = p.catch(() => {});
  return p;
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const msg = data && data.error ? data.error : `${res.status} ${res.statusText}`;
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return data;
}

function showError(msg) {
  const el = $("error");
  el.textContent = msg;
  el.classList.remove("hidden");
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => el.classList.add("hidden"), 8000);
}

function showBanner(title, text) {
  const el = $("banner");
  if (!title) { el.classList.add("hidden"); return; }
  el.innerHTML = "";
  const b = document.createElement("b");
  b.textContent = title;
  el.append(b, document.createTextNode(text));
  el.classList.remove("hidden");
}

// ------------------------------------------------------------------ form
function buildForm(opts) {
  const pills = $("datasets");
  const labels = { circles: "Circles", moons: "Moons", xor: "XOR", spiral: "Spiral", gaussian: "Gaussian", csv: "CSV" };
  for (const name of opts.datasets) {
    const b = document.createElement("button");
    b.textContent = labels[name] || name;
    b.dataset.value = name;
    b.setAttribute("role", "radio");
    b.addEventListener("click", () => selectDataset(name));
    pills.append(b);
  }
  const initNames = {
    auto: "auto (He for ReLU, Xavier otherwise)", he: "He  N(0, 2/n[l-1])", xavier: "Xavier  N(0, 1/n[l-1])",
    glorot: "Glorot  N(0, 2/(n[l]+n[l-1]))", he_uniform: "He uniform", xavier_uniform: "Xavier uniform",
    normal: "N(0, 1)", large: "large  N(0, 10²)", zeros: "zeros", "identity(1.5)": "1.5·I", "identity(0.5)": "0.5·I",
  };
  for (const name of opts.inits) {
    const o = document.createElement("option");
    o.value = name;
    o.textContent = initNames[name] || name;
    $("init").append(o);
  }
  for (const p of opts.presets) {
    const o = document.createElement("option");
    o.value = p.id;
    o.textContent = p.title;
    $("preset").append(o);
  }
  for (const f of opts.csv_files) {
    const o = document.createElement("option");
    o.value = f;
    o.textContent = f;
    $("csv-file").append(o);
  }
  if (!opts.csv_files.length) $("csv-file").closest("label").classList.add("hidden");
  if (opts.data_dir) $("save-row").classList.remove("hidden");

  for (const id of ["n_points", "noise", "test_fraction"]) {
    $(id).addEventListener("input", () => updateOutputs());
    $(id).addEventListener("change", () => sendConfig());
  }
  $("dropout").addEventListener("input", () => updateOutputs());
  for (const id of ["x2_scale", "seed", "normalize", "init", "optimizer", "lr", "beta", "batch_size", "l2",
                    "dropout", "batch_norm", "lr_schedule"]) {
    $(id).addEventListener("change", () => sendConfig());
  }
  $("optimizer").addEventListener("change", updateOptimizerHint);
  $("add-layer").addEventListener("click", () => {
    if (state.hidden.length >= opts.limits.hidden_layers[1]) return showError(`at most ${opts.limits.hidden_layers[1]} hidden layers`);
    const last = state.hidden[state.hidden.length - 1] || { units: 4, activation: "relu" };
    state.hidden.push({ ...last });
    renderLayers();
    sendConfig();
  });
  $("remove-layer").addEventListener("click", () => {
    if (!state.hidden.length) return;
    state.hidden.pop();
    renderLayers();
    sendConfig();
  });
  $("csv-file").addEventListener("change", () => {
    if (!$("csv-file").value) return;
    state.csvSource = "file";
    sendConfig({ dataset: "csv", csv_file: $("csv-file").value, csv_text: null });
  });
  $("csv-upload").addEventListener("change", async () => {
    const file = $("csv-upload").files[0];
    if (!file) return;
    if (file.size > opts.limits.csv_bytes) return showError(`${file.name} is larger than ${opts.limits.csv_bytes / 1024} KiB`);
    const text = await file.text();
    state.csvSource = "upload";
    $("csv-file").value = "";
    sendConfig({ dataset: "csv", csv_text: text, csv_file: null });
  });
}

function selectDataset(name) {
  markDataset(name);
  if (name === "csv") {          // wait for a file to be chosen
    $("csv-row").classList.remove("hidden");
    if (state.snap && state.snap.config.dataset === "csv") return;
    return;
  }
  state.csvSource = null;
  sendConfig({ dataset: name });
}

function markDataset(name) {
  for (const b of $("datasets").children) {
    b.classList.toggle("on", b.dataset.value === name);
    b.setAttribute("aria-checked", b.dataset.value === name ? "true" : "false");
  }
  $("csv-row").classList.toggle("hidden", name !== "csv");
  for (const id of ["n_points", "noise"]) $(id).closest("label").classList.toggle("hidden", name === "csv");
}

function renderLayers() {
  const box = $("layers");
  box.innerHTML = "";
  state.hidden.forEach((layer, i) => {
    const row = document.createElement("div");
    row.className = "layer-row";
    const name = document.createElement("span");
    name.textContent = `layer ${i + 1}`;
    const units = document.createElement("input");
    units.type = "number";
    units.min = 1;
    units.max = state.options.limits.units[1];
    units.value = layer.units;
    units.title = `n[${i + 1}], units of layer ${i + 1}`;
    units.addEventListener("change", () => { layer.units = Number(units.value); sendConfig(); });
    const act = document.createElement("select");
    for (const a of state.options.activations) {
      const o = document.createElement("option");
      o.value = a;
      o.textContent = a;
      act.append(o);
    }
    act.value = layer.activation;
    act.title = `g[${i + 1}]`;
    act.addEventListener("change", () => { layer.activation = act.value; sendConfig(); });
    row.append(name, units, act);
    box.append(row);
  });
  renderArch();
}

function renderArch() {
  const box = $("arch");
  box.innerHTML = "";
  const chips = [["2", "x", true], ...state.hidden.map((h) => [String(h.units), h.activation, false]), ["1", "σ", true]];
  chips.forEach(([n, g, io], i) => {
    if (i) { const a = document.createElement("span"); a.className = "arrow"; a.textContent = "→"; box.append(a); }
    const c = document.createElement("span");
    c.className = "chip" + (io ? " io" : "");
    c.textContent = `${n} ${g}`;
    box.append(c);
  });
  const p = document.createElement("span");
  p.className = "arrow";
  p.textContent = state.snap ? `  ${state.snap.n_params} parameters` : "";
  box.append(p);
}

function updateOutputs() {
  $("n_points-out").textContent = $("n_points").value;
  $("noise-out").textContent = Number($("noise").value).toFixed(2);
  $("test_fraction-out").textContent = `${Math.round(Number($("test_fraction").value) * 100)} %`;
  $("dropout-out").textContent = Number($("dropout").value).toFixed(2);
}

function updateOptimizerHint() {
  const opt = $("optimizer").value;
  const hints = {
    gd: "Batch GD: W[l] ← W[l] − α dW[l], dW on all training points (batch size unused).",
    minibatch: "Mini-batch GD: one step per shuffled batch; an epoch is n_train / batch size steps.",
    momentum: "The lecture's momentum: v ← βv + (1−β)dW, W ← W − αv.",
    adam: "Adam: β₁ = β, β₂ = 0.999, ε = 10⁻⁸, with bias correction.",
  };
  $("opt-hint").textContent = hints[opt];
  $("beta-label").firstChild.textContent = opt === "adam" ? "Adam β₁ " : "Momentum β ";
  $("beta-label").classList.toggle("hidden", opt === "gd" || opt === "minibatch");
  $("batch-label").classList.toggle("hidden", opt === "gd");
}

function fillForm(cfg) {
  markDataset(cfg.dataset);
  $("n_points").value = cfg.n_points;
  $("noise").value = cfg.noise;
  $("test_fraction").value = cfg.test_fraction;
  $("x2_scale").value = cfg.x2_scale;
  $("seed").value = cfg.seed;
  $("normalize").checked = cfg.normalize;
  $("init").value = cfg.init;
  $("optimizer").value = cfg.optimizer;
  $("lr").value = cfg.lr;
  $("beta").value = cfg.beta;
  $("batch_size").value = cfg.batch_size;
  $("l2").value = cfg.l2;
  $("dropout").value = cfg.dropout;
  $("batch_norm").checked = cfg.batch_norm;
  $("lr_schedule").value = cfg.lr_schedule;
  if (cfg.dataset === "csv" && cfg.csv_file) $("csv-file").value = cfg.csv_file;
  state.hidden = cfg.hidden.map((h) => ({ ...h }));
  renderLayers();
  updateOutputs();
  updateOptimizerHint();
}

function readForm() {
  const num = (id) => Number($(id).value);
  const cfg = {
    n_points: num("n_points"),
    noise: num("noise"),
    test_fraction: num("test_fraction"),
    x2_scale: num("x2_scale"),
    seed: num("seed"),
    normalize: $("normalize").checked,
    hidden: state.hidden.map((h) => ({ units: h.units, activation: h.activation })),
    init: $("init").value,
    optimizer: $("optimizer").value,
    lr: num("lr"),
    beta: num("beta"),
    batch_size: num("batch_size"),
    l2: num("l2"),
    dropout: num("dropout"),
    batch_norm: $("batch_norm").checked,
    lr_schedule: $("lr_schedule").value,
  };
  return cfg;
}

// ------------------------------------------------------------------ session
function sendConfig(extra) {
  const cfg = { ...readForm(), ...(extra || {}) };
  return enqueue(async () => {
    try {
      const snap = await api("POST", `/api/sessions/${state.sid}/config`, { config: cfg });
      applySnapshot(snap, snap.rebuilt);
    } catch (e) {
      showError(e.message);
      if (state.snap) fillForm(state.snap.config);   // back to what the server runs
    }
  });
}

function applyPreset(id) {
  const p = state.options.presets.find((x) => x.id === id);
  if (!p) { showBanner(null); return; }
  const cfg = { ...p.config };
  delete cfg.csv_text;
  state.csvSource = null;
  showBanner(p.title, " " + p.text);
  return enqueue(async () => {
    try {
      const snap = await api("POST", `/api/sessions/${state.sid}/config`, { config: cfg, reset: true });
      applySnapshot(snap, true);
    } catch (e) { showError(e.message); }
  });
}

function newSeries() {
  return { epoch: [], train: [], test: [], grads: [], acts: [], lr: [] };
}

function applySnapshot(snap, clear) {
  state.snap = snap;
  fillForm(snap.config);
  $("class0").textContent = `class ${snap.classes[0]}`;
  $("class1").textContent = `class ${snap.classes[1]}`;
  if (clear || !state.series) {
    state.series = newSeries();
    state.frameTimes = [];
  }
  onFrame(snap.frame);
}

function pushFrame(f) {
  const s = state.series;
  const n = s.epoch.length;
  if (n && s.epoch[n - 1] === f.epoch) {   // same epoch (e.g. after a live setting change)
    s.train[n - 1] = f.train_cost; s.test[n - 1] = f.test_cost; s.grads[n - 1] = f.grad_norms;
    s.lr[n - 1] = f.lr;
  } else {
    s.epoch.push(f.epoch); s.train.push(f.train_cost); s.test.push(f.test_cost); s.grads.push(f.grad_norms);
    s.lr.push(f.lr);
  }
  if (s.epoch.length > MAX_POINTS) {
    for (const k of ["epoch", "train", "test", "grads", "lr"]) s[k] = s[k].filter((_, i) => i % 2 === 0 || i === s[k].length - 1);
  }
  s.acts.push(f.activations);
  if (s.acts.length > MAX_COLUMNS) s.acts.shift();
}

function onFrame(f) {
  state.frame = f;
  pushFrame(f);
  const fmt = (x) => (x === null || x === undefined ? "∞" : x < 0.001 && x > 0 ? x.toExponential(2) : x.toFixed(3));
  $("epoch").textContent = f.epoch.toLocaleString("en-US");
  $("train-cost").textContent = fmt(f.train_cost);
  $("test-cost").textContent = fmt(f.test_cost);
  $("train-acc").textContent = `accuracy ${(100 * f.train_accuracy).toFixed(1)} %`;
  $("test-acc").textContent = `accuracy ${(100 * f.test_accuracy).toFixed(1)} %`;
  drawBoundary();
  drawCost();
  drawGrads();
  drawActs();
  if (f.diverged) {
    setPlaying(false);
    showError(f.diverged + " — press reset (↺) or lower α.");
  }
}

// ------------------------------------------------------------------ play loop
function setPlaying(on) {
  state.playing = on;
  $("play").classList.toggle("playing", on);
  $("play").querySelector("path").setAttribute("d", on ? "M6 5h4v14H6zm8 0h4v14h-4z" : "M8 5v14l11-7z");
  $("play").setAttribute("aria-label", on ? "pause" : "play");
  if (on) loop();
}

async function trainFrame() {
  const epochs = Number($("speed").value);
  const f = await enqueue(() => api("POST", `/api/sessions/${state.sid}/step`, { epochs }));
  state.frames += 1;
  const now = performance.now();
  state.frameTimes.push(now);
  while (state.frameTimes.length && now - state.frameTimes[0] > 2000) state.frameTimes.shift();
  const t = state.frameTimes;
  if (t.length > 2) $("fps").textContent = ((t.length - 1) * 1000 / (t[t.length - 1] - t[0])).toFixed(1);
  onFrame(f);
}

async function loop() {
  if (loop.running) return;
  loop.running = true;
  try {
    while (state.playing) {
      try { await trainFrame(); } catch (e) { showError(e.message); setPlaying(false); }
      await new Promise((r) => requestAnimationFrame(() => r()));
    }
  } finally { loop.running = false; }
}

function fps() {
  const t = state.frameTimes;
  return t.length > 2 ? (t.length - 1) * 1000 / (t[t.length - 1] - t[0]) : 0;
}

// ------------------------------------------------------------------ drawing
function fit(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return [ctx, w, h];
}

function probColor(p, strength) {
  // p = P(y = 1): orange (0) → white (0.5) → blue (1), mixed with white by `strength`
  const c = p < 0.5 ? COLOR0 : COLOR1;
  const t = Math.min(1, Math.abs(p - 0.5) * 2) * strength;
  return [255 + (c[0] - 255) * t, 255 + (c[1] - 255) * t, 255 + (c[2] - 255) * t];
}

const gridCanvas = document.createElement("canvas");
function drawBoundary() {
  const f = state.frame, snap = state.snap;
  if (!f || !snap) return;
  const [ctx, w, h] = fit($("boundary"));
  const G = f.grid;
  const bytes = Uint8Array.from(atob(f.boundary), (c) => c.charCodeAt(0));
  gridCanvas.width = G; gridCanvas.height = G;
  const gctx = gridCanvas.getContext("2d");
  const img = gctx.createImageData(G, G);
  for (let i = 0; i < G * G; i++) {
    const [r, g, b] = probColor(bytes[i] / 255, 0.62);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  gctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(gridCanvas, 0, 0, w, h);

  const [[x0, x1], [y0, y1]] = snap.bounds;
  const px = (x) => ((x - x0) / (x1 - x0)) * w;
  const py = (y) => h - ((y - y0) / (y1 - y0)) * h;
  ctx.strokeStyle = "rgba(0,0,0,0.12)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  if (x0 < 0 && x1 > 0) { ctx.moveTo(px(0), 0); ctx.lineTo(px(0), h); }
  if (y0 < 0 && y1 > 0) { ctx.moveTo(0, py(0)); ctx.lineTo(w, py(0)); }
  ctx.stroke();
  drawContour(ctx, bytes, G, w, h);

  const dot = (p, stroke, lw) => {
    ctx.beginPath();
    ctx.arc(px(p[0]), py(p[1]), 3.6, 0, 2 * Math.PI);
    const c = p[2] ? COLOR1 : COLOR0;
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.fill();
    ctx.lineWidth = lw;
    ctx.strokeStyle = stroke;
    ctx.stroke();
  };
  for (const p of snap.train) dot(p, "#ffffff", 1);
  if ($("show-test").checked) for (const p of snap.test) dot(p, "#1f2933", 1.6);

  ctx.fillStyle = "rgba(31,41,51,0.65)";
  ctx.font = "11px sans-serif";
  ctx.fillText(`x₁ ∈ [${x0.toFixed(1)}, ${x1.toFixed(1)}]`, 6, h - 6);
  ctx.save();
  ctx.translate(12, h - 90);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`x₂ ∈ [${y0.toFixed(1)}, ${y1.toFixed(1)}]`, 0, 0);
  ctx.restore();
}

function drawContour(ctx, bytes, G, w, h) {
  // marching squares on the grid: the decision boundary σ(z[L]) = 0.5
  const v = (i, j) => bytes[i * G + j] / 255 - 0.5;
  const sx = w / (G - 1), sy = h / (G - 1);
  ctx.strokeStyle = "rgba(31,41,51,0.75)";
  ctx.lineWidth = 1.6;
  ctx.beginPath();
  for (let i = 0; i < G - 1; i++) {
    for (let j = 0; j < G - 1; j++) {
      const a = v(i, j), b = v(i, j + 1), c = v(i + 1, j + 1), d = v(i + 1, j);
      const pts = [];
      const edge = (p, q, x0, y0, x1, y1) => {
        if ((p > 0) !== (q > 0)) {
          const t = p / (p - q);
          pts.push([(x0 + t * (x1 - x0)) * sx, (y0 + t * (y1 - y0)) * sy]);
        }
      };
      edge(a, b, j, i, j + 1, i);
      edge(b, c, j + 1, i, j + 1, i + 1);
      edge(d, c, j, i + 1, j + 1, i + 1);
      edge(a, d, j, i, j, i + 1);
      for (let k = 0; k + 1 < pts.length; k += 2) {
        ctx.moveTo(pts[k][0], pts[k][1]);
        ctx.lineTo(pts[k + 1][0], pts[k + 1][1]);
      }
    }
  }
  ctx.stroke();
}

function axes(ctx, w, h, pad) {
  ctx.strokeStyle = "#e1e6ec";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
}

function drawCost() {
  const s = state.series;
  const [ctx, w, h] = fit($("cost-chart"));
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 40, r: 10, t: 8, b: 20 };
  axes(ctx, w, h, pad);
  const vals = [...s.train, ...s.test].filter((x) => x !== null && isFinite(x));
  if (!vals.length) return;
  const ymax = Math.max(1e-3, ...vals) * 1.05;
  const e0 = s.epoch[0], e1 = Math.max(s.epoch[s.epoch.length - 1], e0 + 1);
  const X = (e) => pad.l + ((e - e0) / (e1 - e0)) * (w - pad.l - pad.r);
  const Y = (v) => pad.t + (1 - v / ymax) * (h - pad.t - pad.b);
  ctx.fillStyle = "#66727f";
  ctx.font = "10.5px sans-serif";
  ctx.textAlign = "right";
  for (const f of [0, 0.5, 1]) ctx.fillText((ymax * f).toFixed(ymax < 0.1 ? 3 : 2), pad.l - 4, Y(ymax * f) + 3);
  ctx.textAlign = "left";
  ctx.fillText(`epoch ${e0}`, pad.l, h - 5);
  ctx.textAlign = "right";
  ctx.fillText(`${e1}`, w - pad.r, h - 5);
  const line = (ys, color, width) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    let pen = false;
    ys.forEach((v, i) => {
      if (v === null || !isFinite(v)) { pen = false; return; }
      const x = X(s.epoch[i]), y = Y(Math.min(v, ymax));
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    });
    ctx.stroke();
  };
  line(s.train, "#1f2933", 1.6);
  line(s.test, TEST_COLOR, 1.8);
  drawLearningRate(ctx, s, X, w, h, pad);
  ctx.textAlign = "right";
  ctx.fillStyle = TEST_COLOR; ctx.fillText("test", w - pad.r - 6, pad.t + 12);
  ctx.fillStyle = "#1f2933"; ctx.fillText("train", w - pad.r - 36, pad.t + 12);
}

function drawLearningRate(ctx, s, X, w, h, pad) {
  // α of each epoch, dashed, on its own scale from 0 to its largest value (right axis)
  const vals = s.lr.filter((x) => x !== null && x !== undefined && isFinite(x));
  if (!vals.length) return;
  const top = Math.max(...vals) * 1.05 || 1;
  const Y = (v) => pad.t + (1 - v / top) * (h - pad.t - pad.b);
  ctx.save();
  ctx.strokeStyle = LR_COLOR;
  ctx.setLineDash([4, 3]);
  ctx.lineWidth = 1.3;
  ctx.beginPath();
  s.lr.forEach((v, i) => {
    if (v === null || v === undefined || !isFinite(v)) return;
    if (i === 0) ctx.moveTo(X(s.epoch[i]), Y(v)); else ctx.lineTo(X(s.epoch[i]), Y(v));
  });
  ctx.stroke();
  ctx.restore();
  ctx.fillStyle = LR_COLOR;
  ctx.textAlign = "right";
  ctx.font = "10.5px sans-serif";
  ctx.fillText(`α ${vals[vals.length - 1].toPrecision(2)}`, w - pad.r - 70, pad.t + 12);
}

function layerColor(l, L) {
  // layer 1 blue … layer L red: vanishing/exploding shows as a fan of colors
  const hue = L <= 1 ? 215 : 255 - (250 * (l - 1)) / (L - 1);
  const light = hue > 40 && hue < 190 ? 38 : 50;   // darker greens and yellows stay readable
  return `hsl(${hue}, 78%, ${light}%)`;
}

function drawGrads() {
  const s = state.series;
  const [ctx, w, h] = fit($("grad-chart"));
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 52, r: 12, t: 10, b: 22 };
  axes(ctx, w, h, pad);
  const L = s.grads.length ? s.grads[s.grads.length - 1].length : 0;
  let lo = Infinity, hi = -Infinity;
  for (const g of s.grads) for (const v of g) if (v !== null && v > 0 && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const legend = $("grad-legend");
  legend.innerHTML = "";
  for (let l = 1; l <= L; l++) {
    const item = document.createElement("span");
    const last = s.grads[s.grads.length - 1][l - 1];
    item.innerHTML = `<i style="background:${layerColor(l, L)}"></i>‖dW[${l}]‖ `;
    item.append(document.createTextNode(last === null ? "∞" : last === 0 ? "0" : last.toExponential(1)));
    legend.append(item);
  }
  if (!isFinite(lo)) {
    ctx.fillStyle = "#66727f";
    ctx.font = "12px sans-serif";
    ctx.fillText(s.grads.length ? "every ‖dW[l]‖ is 0" : "", pad.l + 10, pad.t + 20);
    return;
  }
  let d0 = Math.floor(Math.log10(lo)), d1 = Math.ceil(Math.log10(hi));
  if (d1 - d0 < 2) { d0 -= 1; d1 += 1; }
  const e0 = s.epoch[0], e1 = Math.max(s.epoch[s.epoch.length - 1], e0 + 1);
  const X = (e) => pad.l + ((e - e0) / (e1 - e0)) * (w - pad.l - pad.r);
  const Y = (v) => pad.t + (1 - (Math.log10(v) - d0) / (d1 - d0)) * (h - pad.t - pad.b);
  ctx.font = "10.5px sans-serif";
  ctx.textAlign = "right";
  const step = Math.max(1, Math.ceil((d1 - d0) / 6));
  for (let d = d0; d <= d1; d += step) {
    ctx.strokeStyle = "#eef1f4";
    ctx.beginPath(); ctx.moveTo(pad.l, Y(10 ** d)); ctx.lineTo(w - pad.r, Y(10 ** d)); ctx.stroke();
    ctx.fillStyle = "#66727f";
    ctx.fillText(`1e${d}`, pad.l - 5, Y(10 ** d) + 3);
  }
  ctx.textAlign = "left";
  ctx.fillText(`epoch ${e0}`, pad.l, h - 6);
  ctx.textAlign = "right";
  ctx.fillText(`${e1}`, w - pad.r, h - 6);
  for (let l = 1; l <= L; l++) {
    ctx.strokeStyle = layerColor(l, L);
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    let pen = false;
    s.grads.forEach((g, i) => {
      const v = g[l - 1];
      if (v === null || !(v > 0) || g.length !== L) { pen = false; return; }
      const x = X(s.epoch[i]), y = Y(v);
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    });
    ctx.stroke();
  }
}

function heat(v) {
  // dark blue-black → purple → orange → pale yellow
  const stops = [[15, 26, 36], [70, 50, 150], [200, 70, 120], [250, 150, 60], [252, 240, 170]];
  const x = Math.max(0, Math.min(1, v)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x)), t = x - i;
  return stops[i].map((c, k) => c + (stops[i + 1][k] - c) * t);
}

function drawActs() {
  const box = $("act-strips");
  const cols = state.series.acts;
  const last = cols[cols.length - 1] || [];
  if (!last.length) {
    box.innerHTML = '<div class="empty">No hidden layer: this network is logistic regression.</div>';
    return;
  }
  if (box.children.length !== last.length || box.querySelector(".empty")) {
    box.innerHTML = "";
    for (const a of last) {
      const row = document.createElement("div");
      row.className = "strip";
      row.innerHTML = '<div class="name"></div><canvas height="30"></canvas>';
      box.append(row);
    }
  }
  last.forEach((a, k) => {
    const row = box.children[k];
    const std = a.std === null ? "∞" : a.std.toPrecision(2);
    const mean = a.mean === null ? "∞" : a.mean.toPrecision(2);
    row.querySelector(".name").innerHTML = `a[${a.layer}] ${a.activation}<small>μ ${mean}, σ ${std}</small><small>range [${a.range[0]}, ${a.range[1]}]</small>`;
    const canvas = row.querySelector("canvas");
    const bins = a.hist.length;
    canvas.height = bins;
    const ctx = canvas.getContext("2d");
    // the time window grows with the run up to MAX_COLUMNS frames, then scrolls
    const width = Math.max(MIN_COLUMNS, cols.length);
    if (canvas.width !== width) canvas.width = width;
    const img = ctx.createImageData(width, bins);
    const offset = width - cols.length;
    for (let x = 0; x < width; x++) {
      const frame = x >= offset ? cols[x - offset] : null;
      const hist = frame && frame[k] && frame[k].hist.length === bins ? frame[k].hist : null;
      for (let b = 0; b < bins; b++) {
        const v = hist ? Math.sqrt(hist[b] * bins / 4) : 0;   // 1 = four times uniform density
        const [r, g, bl] = heat(v);
        const y = bins - 1 - b;   // high values at the top
        const i = 4 * (y * width + x);
        img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = bl; img.data[i + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  });
}

// ------------------------------------------------------------------ export
async function exportPython() {
  try {
    const res = await fetch(`/api/sessions/${state.sid}/export/python`);
    if (!res.ok) throw new Error((await res.json()).error);
    const text = await res.text();
    const pre = $("snippet");
    pre.textContent = text;
    pre.classList.remove("hidden");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "text/x-python" }));
    a.download = "playground_model.py";
    a.click();
    $("export-status").textContent = "snippet downloaded (also shown below)";
  } catch (e) { showError(e.message); }
}

function exportModel() {
  const a = document.createElement("a");
  a.href = `/api/sessions/${state.sid}/export/model`;
  a.download = "playground-model.npz";
  document.body.append(a);
  a.click();
  a.remove();
  $("export-status").textContent = "model file downloaded: mlplab.load('playground-model.npz')";
}

async function saveModel() {
  try {
    const r = await enqueue(() => api("POST", `/api/sessions/${state.sid}/save`, { name: $("save-name").value }));
    $("export-status").textContent = `saved ${r.saved} (${r.bytes} bytes) in the data folder`;
  } catch (e) { showError(e.message); }
}

// ------------------------------------------------------------------ start
async function start() {
  try {
    state.options = await api("GET", "/api/options");
    buildForm(state.options);
    const snap = await api("POST", "/api/sessions", { config: {} });
    state.sid = snap.session;
    applySnapshot(snap, true);
  } catch (e) {
    showError(`cannot start: ${e.message}`);
    return;
  }
  $("play").addEventListener("click", () => setPlaying(!state.playing));
  $("step").addEventListener("click", () => { if (!state.playing) trainFrame().catch((e) => showError(e.message)); });
  $("reset").addEventListener("click", () => enqueue(async () => {
    try { applySnapshot(await api("POST", `/api/sessions/${state.sid}/reset`, {}), true); } catch (e) { showError(e.message); }
  }));
  $("preset").addEventListener("change", () => applyPreset($("preset").value));
  $("show-test").addEventListener("change", drawBoundary);
  $("export-python").addEventListener("click", exportPython);
  $("export-model").addEventListener("click", exportModel);
  $("save").addEventListener("click", saveModel);
  window.addEventListener("resize", () => { drawBoundary(); drawCost(); drawGrads(); });
  window.addEventListener("pagehide", () => {
    if (state.sid) fetch(`/api/sessions/${state.sid}`, { method: "DELETE", keepalive: true });
  });
  state.ready = true;
}

// what the end-to-end tests read (and a handy console API)
window.playground = {
  state,
  fps,
  get ready() { return state.ready; },
  get epoch() { return state.frame ? state.frame.epoch : 0; },
  get testCosts() { return state.series ? state.series.test.slice() : []; },
  get hiddenLayers() { return state.snap ? state.snap.config.hidden.length : -1; },
};

start();
