// Runs the exported model in the browser: model.json (schema, classes, version) and
// model.onnx come from this page's own folder; the inputs never leave the page.
"use strict";

const state = { session: null, manifest: null, release: null, aggregates: null };
const $ = (id) => document.getElementById(id);

ort.env.wasm.wasmPaths = new URL("ort/", document.baseURI).href;
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain host lacks

async function sha256(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return "sha256:" + Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The release names the promoted version's files and digests: the page runs that version
// only if both digests match and its parity passed at export.
async function fetchVerified(path, digest) {
  const answer = await fetch(path, { cache: "no-store" });
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  const buffer = await answer.arrayBuffer();
  if (digest && (await sha256(buffer)) !== digest) {
    throw new Error(`${path}: digest does not match the release; not loaded`);
  }
  return buffer;
}

// The last release this page verified and ran, per origin: the one to fall back to when a
// newer release fails its checks (its files stay on the host beside the newer ones).
const LAST_GOOD = "vigia-last-good-release";

async function loadRelease(release) {
  if (release.parity_passed === false) {
    throw new Error(`version ${release.version}: parity did not pass; not loaded`);
  }
  const manifestBytes = await fetchVerified(release.manifest, release.manifest_digest);
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  const bytes = new Uint8Array(await fetchVerified(release.model, release.model_digest));
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  return { manifest, session };
}

function lastGood() {
  try { return JSON.parse(localStorage.getItem(LAST_GOOD)); } catch { return null; }
}

async function load() {
  const released = await fetch("release.json", { cache: "no-store" });
  state.release = released.ok ? await released.json() : null;
  const release = state.release || { model: "model.onnx", manifest: "model.json" };
  let loaded;
  try {
    loaded = await loadRelease(release);
    if (state.release) localStorage.setItem(LAST_GOOD, JSON.stringify(state.release));
  } catch (error) {
    const previous = lastGood();
    if (!previous || !state.release || previous.version === state.release.version) throw error;
    loaded = await loadRelease(previous);
    $("status").className = "error";
    $("status").textContent = `${error.message}; running the previous version ${previous.version}`;
  }
  const { manifest, session } = loaded;
  state.session = session;
  state.manifest = manifest;
  $("model").textContent = `Model ${manifest.name}, version ${manifest.version}`;
  if (state.release && state.release.telemetry) {
    state.aggregates = new Aggregates(manifest);
    $("share-box").hidden = false;
  }
  buildForm(manifest.features);
  $("predict").disabled = false;
  document.body.dataset.ready = "true";
}

function buildForm(features) {
  const form = $("row-form");
  for (const f of features) {
    const label = document.createElement("label");
    label.textContent = f.name.replaceAll("_", " ");
    let input;
    if (f.kind === "numeric") {
      input = document.createElement("input");
      input.type = "number";
      input.step = "any";
      if (f.minimum !== null && f.maximum !== null) {
        input.value = String(Number(((f.minimum + f.maximum) / 2).toPrecision(4)));
      }
    } else {
      input = document.createElement("select");
      for (const c of f.categories || []) input.add(new Option(c, c));
    }
    input.name = f.name;
    label.append(input);
    form.append(label);
  }
}

class RowError extends Error {}

function checkValue(f, raw, where) {
  if (raw === null || raw === undefined || raw === "") {
    if (!f.nullable) throw new RowError(`${where}: must not be empty`);
    return null;
  }
  if (f.kind === "numeric") {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new RowError(`${where}: expected a number, got "${raw}"`);
    return value;
  }
  const cats = f.categories || [];
  if (!cats.includes(raw)) {
    throw new RowError(`${where}: unknown category "${raw}"; expected one of ${cats.join(", ")}`);
  }
  return raw;
}

function feeds(rows) {
  const { features, input_mode: mode } = state.manifest;
  const n = rows.length;
  if (mode === "matrix") {
    const data = new Float32Array(n * features.length);
    rows.forEach((row, i) => features.forEach((f, j) => {
      data[i * features.length + j] = row[f.name] === null ? NaN : row[f.name];
    }));
    return { features: new ort.Tensor("float32", data, [n, features.length]) };
  }
  const feed = {};
  for (const f of features) {
    if (f.kind === "numeric") {
      const data = Float32Array.from(rows, (r) => (r[f.name] === null ? NaN : r[f.name]));
      feed[f.name] = new ort.Tensor("float32", data, [n, 1]);
    } else {
      feed[f.name] = new ort.Tensor("string", rows.map((r) => r[f.name] ?? ""), [n, 1]);
    }
  }
  return feed;
}

async function predictRows(rows) {
  const started = performance.now();
  const output = await state.session.run(feeds(rows), ["probabilities"]);
  const elapsed = performance.now() - started;
  const k = state.manifest.classes.length;
  const proba = output.probabilities.data;
  const predictions = rows.map((_, i) => {
    const p = Array.from(proba.slice(i * k, (i + 1) * k));
    const best = p.indexOf(Math.max(...p));
    return { class: state.manifest.classes[best], probabilities: p };
  });
  if (state.aggregates && $("share").checked) {
    state.aggregates.observe(rows, predictions);
    await sendReport(state.release.telemetry, state.aggregates.takeReport("browser"));
    document.body.dataset.reported = String(Number(document.body.dataset.reported || 0) + 1);
  }
  return { predictions, ms: elapsed };
}

function show(predictions, ms) {
  const body = $("results").tBodies[0];
  body.replaceChildren();
  predictions.forEach((p, i) => {
    const tr = body.insertRow();
    tr.dataset.probabilities = JSON.stringify(p.probabilities);
    tr.dataset.class = p.class;
    tr.insertCell().textContent = String(i + 1);
    tr.insertCell().textContent = p.class;
    const cell = tr.insertCell();
    state.manifest.classes.forEach((c, j) => {
      const line = document.createElement("div");
      const track = document.createElement("span");
      track.className = "track";
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${(100 * p.probabilities[j]).toFixed(1)}%`;
      track.append(bar);
      line.append(track, `${p.probabilities[j].toFixed(2)} ${c}`);
      cell.append(line);
    });
    tr.insertCell().textContent = state.manifest.version;
  });
  $("results").hidden = false;
  const perRow = ms / predictions.length;
  $("status").className = "";
  $("status").textContent =
    `${predictions.length} prediction(s) in ${ms.toFixed(1)} ms (${perRow.toFixed(3)} ms per row).`;
  document.body.dataset.perRowMs = String(perRow);
}

function fail(error) {
  $("status").className = "error";
  $("status").textContent = error instanceof RowError ? error.message : `Error: ${error.message}`;
}

async function predictForm() {
  const data = new FormData($("row-form"));
  try {
    const row = {};
    for (const f of state.manifest.features) row[f.name] = checkValue(f, data.get(f.name), f.name);
    const { predictions, ms } = await predictRows([row]);
    show(predictions, ms);
  } catch (error) { fail(error); }
}

function parseCsv(text) {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) throw new RowError("the CSV needs a header line and at least one row");
  const header = lines[0].split(",").map((h) => h.trim());
  for (const f of state.manifest.features) {
    if (!header.includes(f.name)) throw new RowError(`the CSV has no column "${f.name}"`);
  }
  return lines.slice(1).map((line, i) => {
    const cells = line.split(",").map((c) => c.trim());
    const row = {};
    for (const f of state.manifest.features) {
      row[f.name] = checkValue(f, cells[header.indexOf(f.name)], `row ${i + 1}, ${f.name}`);
    }
    return row;
  });
}

async function predictFile(file) {
  try {
    const rows = parseCsv(await file.text());
    const { predictions, ms } = await predictRows(rows);
    show(predictions, ms);
  } catch (error) { fail(error); }
}

$("predict").addEventListener("click", predictForm);
$("csv").addEventListener("change", (e) => { if (e.target.files[0]) predictFile(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) predictFile(e.dataTransfer.files[0]);
});
load().catch(fail);
