// starid's page: upload a photo, draw the named boxes the API returns, list
// the top candidates, and show the people the model knows. Plain DOM code,
// no libraries, so the page works offline from the binary alone. Names come
// from the server and are only ever set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let limits = { max_upload_bytes: 0, max_pixels: 0 };
let previewURL = null;

function megabytes(n) {
  return (n / (1 << 20)).toFixed(n % (1 << 20) === 0 ? 0 : 1) + " MB";
}

function percent(p) {
  const v = 100 * p;
  return (v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)) + "%";
}

function setStatus(text) {
  $("status").textContent = text;
}

function showError(text) {
  const e = $("error");
  e.textContent = text;
  e.hidden = !text;
}

// Turns a failed response into a sentence for people; the server's own
// message says exactly what was wrong.
function explain(status, body, retryAfter) {
  const detail = body && body.error ? body.error : "";
  switch (status) {
    case 413:
      return "That photo is too big to upload: " + (detail || "over the size limit") + ".";
    case 415:
      return "That file is not a photo starid can read: " + (detail || "unsupported format") + ".";
    case 422:
      return "That photo has too many pixels: " + (detail || "over the pixel limit") + ".";
    case 400:
      return "That photo could not be read: " + (detail || "bad request") + ".";
    case 503:
      return "The server is busy" + (retryAfter ? "; try again in " + retryAfter + " s" : "; try again shortly") +
        (detail ? " (" + detail + ")." : ".");
    default:
      return "Something went wrong (HTTP " + status + ")" + (detail ? ": " + detail : "") + ".";
  }
}

async function loadModel() {
  let info;
  try {
    const r = await fetch("api/v1/model");
    if (!r.ok) throw new Error("HTTP " + r.status);
    info = await r.json();
  } catch (err) {
    $("model-line").textContent = "Could not load the model description (" + err.message + ").";
    return;
  }
  limits = info;
  const n = info.classes.length;
  // Face runs threshold a descriptor distance; whole-photo runs a probability.
  let rule = ".";
  if (info.kind === "library") {
    rule = "; names come from the people named in the library, and a face farther than " + info.threshold.toFixed(2) +
      " (descriptor distance) from all of them is marked unknown.";
  } else if (info.kind === "face" && info.threshold > 0) {
    rule = "; a face farther than " + info.threshold.toFixed(2) + " (descriptor distance) from the person it looks most like is marked unknown.";
  } else if (info.threshold > 0) {
    rule = "; faces below " + percent(info.threshold) + " confidence are marked unknown.";
  }
  $("model-line").textContent = "Model " + info.kind + ", knows " + n + (n === 1 ? " person" : " people") + rule;
  if (info.max_upload_bytes) {
    $("limit-hint").textContent = ", up to " + megabytes(info.max_upload_bytes);
  }
  const list = $("gallery");
  list.replaceChildren();
  for (const name of info.classes) {
    const li = document.createElement("li");
    li.dataset.name = name;
    const initials = document.createElement("span");
    initials.className = "thumb";
    initials.setAttribute("aria-hidden", "true");
    initials.textContent = name.split(/\s+/).map((w) => w.charAt(0)).join("").slice(0, 3).toUpperCase();
    if (info.gallery) {
      const img = document.createElement("img");
      img.className = "thumb";
      img.alt = "";
      img.loading = "lazy";
      img.addEventListener("error", () => img.replaceWith(initials));
      img.src = "api/v1/gallery/" + encodeURIComponent(name);
      li.append(img);
    } else {
      li.append(initials);
    }
    const caption = document.createElement("div");
    caption.textContent = name;
    li.append(caption);
    list.append(li);
  }
  if (info.library && typeof libraryStart === "function") libraryStart();
}

async function recognize(file) {
  showError("");
  if (!file) return;
  if (limits.max_upload_bytes && file.size > limits.max_upload_bytes) {
    showError("That photo is too big to upload: " + megabytes(file.size) + ", over the " +
      megabytes(limits.max_upload_bytes) + " limit.");
    return;
  }
  setStatus("Looking for faces in " + file.name + "…");
  document.body.setAttribute("aria-busy", "true");
  const form = new FormData();
  form.append("image", file);
  let r, body;
  try {
    r = await fetch("api/v1/recognize", { method: "POST", body: form });
    body = await r.json().catch(() => null);
  } catch (err) {
    setStatus("");
    showError("Could not reach the server (" + err.message + ").");
    return;
  } finally {
    document.body.removeAttribute("aria-busy");
  }
  if (!r.ok) {
    setStatus("");
    showError(explain(r.status, body, r.headers.get("Retry-After")));
    return;
  }
  show(file, body);
  const n = body.faces.length;
  setStatus((n === 0 ? "No faces found" : n === 1 ? "1 face found" : n + " faces found") +
    " in " + file.name + " (" + Math.round(body.ms) + " ms).");
}

// placeBox puts a face box over a photo of width x height pixels, in
// percent, so it stays on the face at any display size.
function placeBox(box, [x, y, w, h], width, height) {
  box.style.left = (100 * x / width) + "%";
  box.style.top = (100 * y / height) + "%";
  box.style.width = (100 * w / width) + "%";
  box.style.height = (100 * h / height) + "%";
  box.classList.toggle("top-edge", y < 0.08 * height);
}

function show(file, res) {
  if (previewURL) URL.revokeObjectURL(previewURL);
  previewURL = URL.createObjectURL(file);
  const stage = $("stage");
  const photo = $("photo");
  // Boxes are placed in percent of the photo the server decoded (EXIF
  // orientation applied, as browsers also show it), so they stay on the
  // faces at any display size.
  stage.style.aspectRatio = res.width + " / " + res.height;
  stage.classList.remove("no-preview");
  photo.onerror = () => stage.classList.add("no-preview"); // e.g. TIFF: boxes on a blank stage
  photo.src = previewURL;
  photo.alt = "The uploaded photo, " + res.width + " by " + res.height + " pixels";

  const boxes = $("boxes");
  const list = $("faces");
  boxes.replaceChildren();
  list.replaceChildren();
  res.faces.forEach((f, i) => {
    const [x, y, w, h] = f.box;
    const box = document.createElement("div");
    box.className = "box" + (f.unknown ? " unknown" : "");
    box.dataset.name = f.name;
    box.dataset.index = String(i + 1);
    placeBox(box, f.box, res.width, res.height);
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = (i + 1) + ". " + f.name + (f.unknown ? "" : " " + percent(f.confidence));
    box.append(label);
    boxes.append(box);

    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = f.name;
    li.append(name, f.unknown
      ? " (best guess " + percent(f.confidence) + ", not close enough to be sure)"
      : " (" + percent(f.confidence) + ")");
    const table = document.createElement("table");
    const caption = document.createElement("caption");
    caption.className = "visually-hidden";
    caption.textContent = "Top candidates for face " + (i + 1);
    table.append(caption);
    for (const c of (f.top || []).slice(0, 3)) {
      const tr = table.insertRow();
      tr.insertCell().textContent = c.name;
      const meter = document.createElement("meter");
      meter.min = 0;
      meter.max = 1;
      meter.value = c.probability;
      meter.setAttribute("aria-label", c.name);
      tr.insertCell().append(meter);
      tr.insertCell().textContent = percent(c.probability);
    }
    li.append(table);
    list.append(li);
  });
  $("result").hidden = false;
}

// handleFiles takes the photos chosen or dropped: into the library when the
// server has one (library.js), else recognized one after another.
async function handleFiles(files) {
  if (files.length === 0) return;
  if (limits.library && typeof libraryUpload === "function") {
    libraryUpload(files);
    return;
  }
  for (const f of files) await recognize(f);
}

function setup() {
  const input = $("file");
  input.addEventListener("change", () => {
    handleFiles([...input.files]);
    input.value = ""; // choosing the same photos again fires change again
  });
  const drop = $("drop");
  const over = (on) => (e) => {
    e.preventDefault();
    drop.classList.toggle("over", on);
  };
  drop.addEventListener("dragenter", over(true));
  drop.addEventListener("dragover", over(true));
  drop.addEventListener("dragleave", over(false));
  drop.addEventListener("drop", (e) => {
    over(false)(e);
    if (e.dataTransfer) handleFiles([...e.dataTransfer.files]);
  });
  // A photo dropped next to the target should not replace the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  loadModel();
}

setup();
