// ganzoo serve: the page's behaviour. Plain JavaScript, no libraries, no requests but to this server.
"use strict";

const state = { generators: [], limits: { max_samples: 256, max_walk_steps: 32 }, blobs: {} };
const $ = (id) => document.getElementById(id);

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${Math.round(seconds % 60)} s`
                      : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function formatMetrics(metrics) {
  const parts = Object.entries(metrics || {}).map(([key, value]) => `${key} ${Number(value.toPrecision(4))}`);
  return parts.length ? parts.join(" \u00b7 ") : "-";
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function describe(entry) {
  const shape = entry.image_shape ? `${entry.image_shape[1]}x${entry.image_shape[2]}` : "";
  const where = entry.source.split(/[\\/]/).slice(-2).join("/");  // the run's folder and the file
  return `${entry.variant || "?"} ${shape}, ${where}`;
}

function fillCatalogue() {
  const body = $("generators").tBodies[0];
  body.replaceChildren();
  const main = $("generator"), compare = $("compare");
  main.replaceChildren();
  compare.replaceChildren(new Option("(none)", ""));
  for (const entry of state.generators) {
    const row = body.insertRow();
    row.dataset.id = entry.id;
    cell(row, entry.variant || "?");
    cell(row, entry.plugin ? `${entry.plugin} ${entry.plugin_version}` : "-");
    cell(row, entry.image_shape ? `${entry.image_shape[1]}x${entry.image_shape[2]}, ${entry.image_shape[0]} ch` : "-");
    cell(row, entry.class_names ? String(entry.class_names.length) : "-");
    if (entry.error) {
      row.className = "broken";
      const td = cell(row, entry.error, "error");
      td.colSpan = 2;
    } else {
      cell(row, formatSeconds(entry.run && entry.run.training_seconds));
      cell(row, formatMetrics(entry.run && entry.run.last_metrics), "metrics");
      main.add(new Option(describe(entry), entry.id));
      compare.add(new Option(describe(entry), entry.id));
      row.addEventListener("click", () => { main.value = entry.id; chooseGenerator(); });
    }
    cell(row, entry.source, "file");
  }
}

function entryById(id) {
  return state.generators.find((entry) => entry.id === id);
}

function chooseGenerator() {
  const entry = entryById($("generator").value);
  for (const row of $("generators").tBodies[0].rows) row.classList.toggle("chosen", !!entry && row.dataset.id === entry.id);
  const classes = $("class");
  classes.replaceChildren(new Option("any (random per sample)", ""));
  for (const name of (entry && entry.class_names) || []) classes.add(new Option(name, name));
  $("class-label").hidden = !(entry && entry.class_names);
}

function boundedInteger(id, low, high) {
  const text = $(id).value.trim();
  if (!/^[0-9]+$/.test(text)) throw new Error(`${id.replace("-", " ")} must be a whole number from ${low} to ${high}`);
  const value = BigInt(text);
  if (value < BigInt(low) || value > BigInt(high)) throw new Error(`${id.replace("-", " ")} must lie in ${low}..${high}`);
  return text;
}

function commonParams(entry) {
  const params = new URLSearchParams();
  params.set("seed", boundedInteger("seed", 0, "9223372036854775807"));
  params.set("truncation", $("truncation").value);
  const chosenClass = $("class").value;
  if (chosenClass && entry.class_names && entry.class_names.includes(chosenClass)) params.set("class", chosenClass);
  return params;
}

function panels() {
  const shown = [["main", $("generator").value]];
  if ($("compare").value) shown.push(["compare", $("compare").value]);
  $("panel-compare").hidden = shown.length < 2;
  return shown.map(([name, id]) => ({ name, entry: entryById(id) })).filter((panel) => panel.entry);
}

async function fetchPicture(url, image, name) {
  const response = await fetch(url);
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = (await response.json()).error || message; } catch (ignored) { /* not JSON */ }
    throw new Error(message);
  }
  const blob = await response.blob();
  if (state.blobs[name]) URL.revokeObjectURL(state.blobs[name]);
  state.blobs[name] = URL.createObjectURL(blob);
  await new Promise((resolve, reject) => {
    image.onload = resolve;
    image.onerror = () => reject(new Error("the server sent an image the browser cannot decode"));
    image.src = state.blobs[name];
  });
  const room = ($("results").clientWidth / panels().length) - 48;  // whole pixels per pixel: crisp digits
  const scale = Math.max(1, Math.min(4, Math.floor(room / image.naturalWidth)));
  image.style.width = `${image.naturalWidth * scale}px`;
  image.hidden = false;
  return state.blobs[name];
}

async function render(kind) {
  const shown = panels();
  if (!shown.length) return;
  const buttons = [$("generate"), $("walk")];
  buttons.forEach((button) => { button.disabled = true; });
  $("status").textContent = kind === "grid" ? "generating..." : "walking...";
  const started = performance.now();
  try {
    await Promise.all(shown.map((panel) => renderPanel(kind, panel)));
    $("status").textContent = `done in ${Math.round(performance.now() - started)} ms`;
  } catch (error) {
    $("status").textContent = error.message;
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

async function renderPanel(kind, { name, entry }) {
  const error = $(`error-${name}`);
  const panel = $(`panel-${name}`);
  panel.querySelector(".panel-title").textContent = describe(entry);
  error.hidden = true;
  try {
    const params = commonParams(entry);
    if (kind === "grid") {
      params.set("num", boundedInteger("num", 1, state.limits.max_samples));
      const url = await fetchPicture(`/api/generators/${entry.id}/grid.png?${params}`, $(`grid-${name}`), `grid-${name}`);
      const link = $(`download-${name}`);
      link.href = url;
      link.download = `${entry.variant}-seed${params.get("seed")}-n${params.get("num")}.png`;
      link.hidden = false;
      $(`grid-${name}`).dataset.seed = params.get("seed");
    } else {
      params.set("to_seed", boundedInteger("to-seed", 0, "9223372036854775807"));
      params.set("steps", boundedInteger("steps", 2, state.limits.max_walk_steps));
      params.set("mode", $("mode").value);
      await fetchPicture(`/api/generators/${entry.id}/walk.png?${params}`, $(`walk-${name}`), `walk-${name}`);
    }
  } catch (problem) {
    error.textContent = problem.message;
    error.hidden = false;
    throw problem;
  }
}

async function start() {
  $("truncation").addEventListener("input", () => { $("truncation-value").value = Number($("truncation").value).toFixed(2); });
  $("generator").addEventListener("change", chooseGenerator);
  $("generate").addEventListener("click", () => render("grid"));
  $("walk").addEventListener("click", () => render("walk"));
  $("random-seed").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 2 ** 31));
    render("grid");
  });
  for (const id of ["seed", "num"]) {
    $(id).addEventListener("keydown", (event) => { if (event.key === "Enter") render("grid"); });
  }
  try {
    const response = await fetch("/api/generators");
    const catalogue = await response.json();
    state.generators = catalogue.generators;
    state.limits = catalogue.limits;
  } catch (error) {
    $("catalogue-error").textContent = `could not list the generators: ${error.message}`;
    $("catalogue-error").hidden = false;
    return;
  }
  fillCatalogue();
  chooseGenerator();
  document.body.dataset.ready = "true";
  if ($("generator").value) render("grid");
}

document.addEventListener("DOMContentLoaded", start);
