// The one page `sam serve` serves at `/`: interactive segmentation and the evaluation browser. Plain HTML + JS over
// the JSON API (nothing is fetched from elsewhere). For tests and scripts the page keeps its state in `window.sam`:
// `sam.masks[k]` the k-th mask's pixels (Uint8Array, 1 inside), `sam.selected`, `sam.response` (the last answer),
// and `document.body.dataset.state` is "ready" once the masks of the last action are drawn.
enum Page {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sam serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px system-ui, sans-serif; margin: 0; color: #222; }
header { background: #1e3a5f; color: #fff; padding: 8px 14px; display: flex; gap: 16px; align-items: center; }
header button { background: none; border: 0; color: #cde; font-size: 15px; cursor: pointer; padding: 4px 8px; }
header button.on { color: #fff; border-bottom: 2px solid #fff; }
main { padding: 12px 14px; }
.bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; }
#view { max-width: 100%; max-height: 78vh; cursor: crosshair; border: 1px solid #999; user-select: none; }
.masks { min-height: 2.4em; } /* the image does not move when the mask buttons appear */
.masks button { border: 2px solid #ccc; background: #f6f6f6; padding: 4px 8px; cursor: pointer; }
.masks button.sel { border-color: #1e90ff; background: #e6f2ff; }
#status { color: #555; } .err { color: #b00020 !important; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.hidden { display: none; } small { color: #666; }
</style></head>
<body data-state="idle">
<header><b>sam serve</b> <span id="ckpt"></span>
<button id="tab-seg" class="on">Segment</button><button id="tab-eval">Evaluation</button></header>
<main>
<section id="seg">
<div class="bar">
  <label>Image <select id="images"><option value="">(choose)</option></select></label>
  <label>or upload <input type="file" id="file" accept="image/png,image/jpeg,image/bmp"></label>
  <label><input type="checkbox" id="multimask" checked> three masks</label>
  <button id="undo">Undo</button> <button id="clear">Clear</button>
  <a id="dl-mask" download>mask PNG</a> <a id="dl-prompt" download="prompts.json">prompt JSON</a>
</div>
<div class="bar masks" id="masks"></div>
<div class="bar"><span id="status">Pick an image. Left click: positive point · right click: negative point · drag: box.</span></div>
<canvas id="view" width="1" height="1"></canvas>
</section>
<section id="evalsec" class="hidden">
<div class="bar">
  <label>Source <select id="f-source"></select></label> <label>Checkpoint <select id="f-checkpoint"></select></label>
  <label>Dataset <select id="f-dataset"></select></label> <label>Protocol <select id="f-protocol"></select></label>
  <span id="evalstatus"></span>
</div>
<h3>Files</h3><table id="evalfiles"></table>
<div id="overlaybox" class="hidden"><h3 id="overlaycap"></h3><img id="overlay" alt="overlay"><br>
<small>Green: ground truth · blue: the served model's mask for the protocol's prompt (yellow) · the IoU is recomputed
with the served checkpoint, which may differ from the row's.</small></div>
<h3>Objects, lowest IoU first <small id="rowhint"></small></h3><table id="evalrows"></table>
</section>
</main>
<script>
"use strict";
const $ = id => document.getElementById(id);
const COLORS = [[30,144,255],[255,127,14],[44,160,44]];
const sam = window.sam = { image: null, upload: null, img: null, actions: [], masks: [], selected: 0, response: null, seq: 0 };
let drag = null;

function setStatus(t, err) { const s = $("status"); s.textContent = t; s.className = err ? "err" : ""; }
async function api(path, opts) {
  const r = await fetch(path, opts);
  if (!r.ok) { let m = r.status + " " + r.statusText; try { m = (await r.json()).error.message; } catch (e) {} throw new Error(m); }
  return r;
}
function source() { return sam.image ? { image: sam.image } : { upload: sam.upload }; }
function prompt() {
  const pts = [], labels = []; let box = null;
  for (const a of sam.actions) { if (a.box) box = a.box; else { pts.push([a.x, a.y]); labels.push(a.label); } }
  const p = {}; if (pts.length) { p.points = pts; p.labels = labels; } if (box) p.box = box;
  p.multimask = $("multimask").checked; return p;
}
function query(extra) {
  const q = new URLSearchParams(source()), p = prompt();
  (p.points || []).forEach((pt, i) => q.append("point", pt[0] + "," + pt[1] + "," + p.labels[i]));
  if (p.box) q.set("box", p.box.join(",")); q.set("multimask", p.multimask ? "1" : "0");
  for (const k in (extra || {})) q.set(k, extra[k]); return q.toString();
}

async function loadImage(sel) {
  Object.assign(sam, sel, { actions: [], masks: [], response: null, img: null });
  if (!sel.image) sam.image = null; if (!sel.upload) sam.upload = null;
  document.body.dataset.state = "loading"; $("masks").innerHTML = "";
  const img = new Image();
  img.src = "/api/image?" + new URLSearchParams(source());
  await img.decode();
  sam.img = img; const c = $("view"); c.width = img.naturalWidth; c.height = img.naturalHeight; draw();
  setStatus("computing the embedding…");
  const t = performance.now();
  const r = await (await api("/api/embed", { method: "POST", body: JSON.stringify(source()) })).json();
  setStatus(`${r.width}×${r.height} · embedding ${r.cached ? "cached" : r.embed_ms.toFixed(0) + " ms on the server"} (${(performance.now() - t).toFixed(0)} ms)`);
  document.body.dataset.state = "ready"; updateLinks();
}

async function segment() {
  const seq = ++sam.seq;
  if (!sam.actions.length) { sam.masks = []; sam.response = null; $("masks").innerHTML = ""; draw(); updateLinks(); document.body.dataset.state = "ready"; return; }
  document.body.dataset.state = "busy";
  const t = performance.now();
  try {
    const body = Object.assign(source(), prompt());
    const r = await (await api("/api/segment", { method: "POST", body: JSON.stringify(body) })).json();
    const masks = await Promise.all(r.masks.map(m => decodeMask(m.png, r.width, r.height)));
    if (seq !== sam.seq) return;
    sam.response = r; sam.masks = masks; sam.selected = r.best;
    const rt = performance.now() - t;
    setStatus(`server ${r.server_ms.toFixed(1)} ms (decoder ${r.decode_ms.toFixed(1)} ms${r.cached ? "" : ", encoder " + r.embed_ms.toFixed(0) + " ms"}) · round trip ${rt.toFixed(0)} ms`);
    showMasks(); draw(); updateLinks();
    document.body.dataset.state = "ready";
  } catch (e) { if (seq === sam.seq) { setStatus(e.message, true); document.body.dataset.state = "error"; } }
}

async function decodeMask(b64, w, h) {
  const img = new Image(); img.src = "data:image/png;base64," + b64; await img.decode();
  const c = document.createElement("canvas"); c.width = w; c.height = h;
  const g = c.getContext("2d"); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, w, h).data, m = new Uint8Array(w * h);
  for (let i = 0; i < m.length; i++) m[i] = d[4 * i] > 127 ? 1 : 0;
  return m;
}

function showMasks() {
  const box = $("masks"); box.innerHTML = "";
  sam.response.iou_predictions.forEach((s, k) => {
    const b = document.createElement("button");
    b.textContent = `mask ${k} · IoU ${s.toFixed(3)} · ${sam.response.masks[k].area} px`;
    b.id = "mask-" + k; if (k === sam.selected) b.className = "sel";
    b.onclick = () => { sam.selected = k; showMasks(); draw(); updateLinks(); };
    box.appendChild(b);
  });
}

function draw() {
  const c = $("view"), g = c.getContext("2d");
  if (!sam.img) return;
  g.drawImage(sam.img, 0, 0);
  const m = sam.masks[sam.selected];
  if (m) {
    const id = g.getImageData(0, 0, c.width, c.height), d = id.data, col = COLORS[sam.selected % 3];
    for (let i = 0; i < m.length; i++) if (m[i]) {
      d[4*i] = (d[4*i] + col[0]) >> 1; d[4*i+1] = (d[4*i+1] + col[1]) >> 1; d[4*i+2] = (d[4*i+2] + col[2]) >> 1;
    }
    g.putImageData(id, 0, 0);
  }
  const r = Math.max(4, Math.min(c.width, c.height) / 80);
  g.lineWidth = Math.max(2, r / 3);
  for (const a of sam.actions) {
    if (a.box) { g.strokeStyle = "#00c800"; g.strokeRect(a.box[0], a.box[1], a.box[2] - a.box[0], a.box[3] - a.box[1]); continue; }
    g.beginPath(); g.arc(a.x + 0.5, a.y + 0.5, r, 0, 2 * Math.PI);
    g.fillStyle = a.label ? "#00c800" : "#dc0000"; g.fill(); g.strokeStyle = "#fff"; g.stroke();
  }
  if (drag && drag.moved) { g.strokeStyle = "#ffd000"; g.strokeRect(drag.x0, drag.y0, drag.x1 - drag.x0, drag.y1 - drag.y0); }
}

function updateLinks() {
  const ok = !!sam.response;
  $("dl-mask").href = ok ? "/api/mask.png?" + query({ index: sam.selected }) : "#";
  $("dl-mask").download = "mask_" + sam.selected + ".png";
  $("dl-prompt").href = sam.actions.length ? "/api/prompts.json?" + query() : "#";
}

function imageXY(e) {
  // the client box excludes the border: offsets from its top-left corner, scaled to image pixels
  const c = $("view"), rect = c.getBoundingClientRect();
  const x = (e.clientX - rect.left - c.clientLeft) * c.width / c.clientWidth, y = (e.clientY - rect.top - c.clientTop) * c.height / c.clientHeight;
  return [Math.min(c.width - 1, Math.max(0, Math.floor(x))), Math.min(c.height - 1, Math.max(0, Math.floor(y)))];
}
const view = $("view");
view.addEventListener("contextmenu", e => e.preventDefault());
view.addEventListener("mousedown", e => {
  if (!sam.img || document.body.dataset.state === "loading") return;
  const [x, y] = imageXY(e); drag = { button: e.button, x0: x, y0: y, x1: x, y1: y, moved: false };
});
view.addEventListener("mousemove", e => {
  if (!drag || drag.button !== 0) return;
  const [x, y] = imageXY(e); drag.x1 = x; drag.y1 = y;
  const c = $("view"), s = c.width / c.clientWidth;
  if (Math.abs(x - drag.x0) > 4 * s || Math.abs(y - drag.y0) > 4 * s) drag.moved = true;
  if (drag.moved) draw();
});
window.addEventListener("mouseup", e => {
  if (!drag) return; const d = drag; drag = null;
  if (d.moved) {
    sam.actions = sam.actions.filter(a => !a.box);
    sam.actions.push({ box: [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)] });
  } else if (d.button === 0 || d.button === 2) {
    sam.actions.push({ x: d.x0, y: d.y0, label: d.button === 0 ? 1 : 0 });
  } else return;
  draw(); segment();
});
$("undo").onclick = () => { sam.actions.pop(); draw(); segment(); };
$("clear").onclick = () => { sam.actions = []; draw(); segment(); };
$("multimask").onchange = () => segment();
$("images").onchange = e => { if (e.target.value) loadImage({ image: e.target.value }).catch(err => setStatus(err.message, true)); };
$("file").onchange = async e => {
  const f = e.target.files[0]; if (!f) return;
  try {
    setStatus("uploading…");
    const r = await (await api("/api/upload", { method: "POST", body: f })).json();
    $("images").value = ""; await loadImage({ upload: r.upload });
  } catch (err) { setStatus(err.message, true); }
};

// evaluation browser
const FILTERS = ["source", "checkpoint", "dataset", "protocol"];
let evalFiles = null;
async function loadEval() {
  const q = new URLSearchParams({ limit: 300 });
  for (const f of FILTERS) { const v = $("f-" + f).value; if (v) q.set(f, v); }
  try {
    const r = await (await api("/api/eval?" + q)).json();
    if (!evalFiles) {
      evalFiles = r.files;
      for (const f of FILTERS) {
        const s = $("f-" + f), vals = [...new Set(r.files.map(x => x[f]))].sort();
        s.innerHTML = "<option value=''>(all)</option>" + vals.map(v => `<option>${esc(v)}</option>`).join("");
        s.onchange = loadEval;
      }
    }
    $("evalfiles").innerHTML = "<tr><th>file</th><th>objects</th><th>mIoU</th></tr>" + r.files.map(f =>
      `<tr><td>${esc(f.path)}</td><td class=num>${f.objects}</td><td class=num>${f.miou.toFixed(4)}</td></tr>`).join("");
    $("evalrows").innerHTML = "<tr><th>IoU</th><th>id</th><th>dataset</th><th>protocol</th><th>checkpoint</th><th>source</th></tr>" +
      r.rows.map((x, i) => `<tr data-i="${i}"><td class=num>${x.iou.toFixed(4)}</td><td>${esc(x.id)}</td><td>${esc(x.dataset)}</td><td>${esc(x.protocol)}</td><td>${esc(x.checkpoint)}</td><td>${esc(x.source)}</td></tr>`).join("");
    $("evalstatus").textContent = `${r.files.length} files, ${r.total_rows} objects (${r.rows.length} shown)`;
    if (sam.info && sam.info.data) {
      $("rowhint").textContent = "(click a row for its overlay)";
      for (const tr of $("evalrows").querySelectorAll("tr[data-i]")) {
        tr.style.cursor = "pointer";
        tr.onclick = () => showOverlay(r.rows[+tr.dataset.i]);
      }
    }
  } catch (e) { $("evalstatus").textContent = e.message; $("evalstatus").className = "err"; }
}
async function showOverlay(row) {
  const q = new URLSearchParams({ dataset: row.dataset, id: row.id, protocol: row.protocol });
  $("overlaybox").classList.remove("hidden");
  $("overlaycap").textContent = `${row.dataset} ${row.id} · ${row.protocol} · CSV IoU ${row.iou.toFixed(4)} (${row.checkpoint}, ${row.source}) · drawing…`;
  try {
    const r = await api("/api/eval/overlay?" + q);
    const iou = +r.headers.get("X-SAM-IoU");
    $("overlay").src = URL.createObjectURL(await r.blob());
    $("overlaycap").textContent = `${row.dataset} ${row.id} · ${row.protocol} · CSV IoU ${row.iou.toFixed(4)} (${row.checkpoint}, ${row.source}) · served model IoU ${iou.toFixed(4)}`;
  } catch (e) { $("overlaycap").textContent = e.message; }
}
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }
function tab(evalOn) {
  $("seg").classList.toggle("hidden", evalOn); $("evalsec").classList.toggle("hidden", !evalOn);
  $("tab-seg").classList.toggle("on", !evalOn); $("tab-eval").classList.toggle("on", evalOn);
  if (evalOn) loadEval();
}
$("tab-seg").onclick = () => tab(false); $("tab-eval").onclick = () => tab(true);

(async () => {
  try {
    const info = sam.info = await (await api("/api/info")).json();
    $("ckpt").textContent = `${info.checkpoint} · ViT ${info.embed_dim}×${info.depth}`;
    $("tab-eval").classList.toggle("hidden", !info.reports);
    const r = await (await api("/api/images")).json();
    for (const n of r.images) { const o = document.createElement("option"); o.value = o.textContent = n; $("images").appendChild(o); }
    document.body.dataset.state = "started";
  } catch (e) { setStatus(e.message, true); }
})();
</script>
</body></html>
"""#
}
