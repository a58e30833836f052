// starid's library view (serve --db): photos uploaded into the library
// with progress, the people it holds with their faces, naming and merging
// them, a person's photos, search, and naming a face by clicking it on its
// photo. It uses app.js's helpers ($, explain, showError, setStatus,
// megabytes, placeBox). Names are only ever set as text.
"use strict";

// Uploads run two at a time: the server works on two photos at once by
// default, and more would only wait in its queue.
const uploadsAtOnce = 2;
let people = [];

async function api(method, path, body) {
  const init = { method };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (err) {
    return { ok: false, status: 0, body: { error: "could not reach the server (" + err.message + ")" } };
  }
  const data = await r.json().catch(() => null);
  return { ok: r.ok, status: r.status, body: data, retryAfter: r.headers.get("Retry-After") };
}

function failed(what, res) {
  showError(what + ": " + (res.status ? explain(res.status, res.body, res.retryAfter) : res.body.error));
}

function libraryStart() {
  $("people-view").hidden = false;
  $("library-hint").hidden = false;
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    searchPerson($("search-person").value.trim());
  });
  $("search-photo").addEventListener("change", () => {
    const f = $("search-photo").files[0];
    $("search-photo").value = "";
    if (f) searchLike(f);
  });
  $("people-more").addEventListener("click", () => nextPage(peopleNext, "people", showPeople));
  $("photos-more").addEventListener("click", () => nextPage(photosNext, "photos", showPhotosPage));
  refreshPeople();
}

// ---- Uploads -------------------------------------------------------------

// sendPhoto posts one file with XMLHttpRequest, which (unlike fetch)
// reports upload progress.
function sendPhoto(url, file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => resolve({ ok: xhr.status === 200, status: xhr.status, body: xhr.response,
      retryAfter: xhr.getResponseHeader("Retry-After") });
    xhr.onerror = () => resolve({ ok: false, status: 0, body: { error: "could not reach the server" } });
    const form = new FormData();
    form.append("image", file);
    xhr.send(form);
  });
}

function uploadRow(file) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute("aria-label", "Upload of " + file.name);
  const note = document.createElement("span");
  note.className = "upload-note";
  note.textContent = "waiting";
  li.append(name, bar, note);
  $("uploads").append(li);
  return { li, bar, note };
}

async function uploadOne(file, row) {
  if (limits.max_upload_bytes && file.size > limits.max_upload_bytes) {
    row.note.textContent = "too big: " + megabytes(file.size) + ", over the " + megabytes(limits.max_upload_bytes) + " limit";
    row.li.classList.add("failed");
    return false;
  }
  // A busy server says when to come back; try a few times.
  for (let attempt = 0; ; attempt++) {
    row.note.textContent = "uploading";
    const res = await sendPhoto("api/v1/library/photos", file, (p) => {
      row.bar.value = p;
      if (p === 1) row.note.textContent = "finding faces";
    });
    if (res.ok) {
      row.bar.value = 1;
      const named = res.body.faces.filter((f) => f.person).map((f) => f.person);
      row.note.textContent = facesText(res.body.faces.length) + (named.length ? ": " + named.join(", ") : "") +
        (res.body.known ? " (already in the library)" : "");
      row.li.classList.add("done");
      row.li.addEventListener("click", () => showLibraryPhoto($("lib-photo"), res.body));
      showLibraryPhoto($("lib-photo"), res.body);
      return true;
    }
    if (res.status === 503 && attempt < 3) {
      const wait = Math.min(60, Number(res.retryAfter) || 2);
      row.note.textContent = "server busy, retrying in " + wait + " s";
      await new Promise((ok) => setTimeout(ok, wait * 1000));
      continue;
    }
    row.note.textContent = res.status ? explain(res.status, res.body, res.retryAfter) : res.body.error;
    row.li.classList.add("failed");
    return false;
  }
}

function facesText(n) {
  return n === 0 ? "no faces" : n === 1 ? "1 face" : n + " faces";
}

async function libraryUpload(files) {
  showError("");
  const rows = files.map((f) => [f, uploadRow(f)]);
  let next = 0, good = 0;
  setStatus("Adding " + files.length + (files.length === 1 ? " photo" : " photos") + " to the library…");
  const worker = async () => {
    while (next < rows.length) {
      const [f, row] = rows[next++];
      if (await uploadOne(f, row)) good++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(uploadsAtOnce, rows.length) }, worker));
  setStatus(good + " of " + files.length + (files.length === 1 ? " photo" : " photos") + " added to the library.");
  refreshPeople();
}

// ---- A library photo, its faces nameable on it ---------------------------

// showLibraryPhoto draws a library photo ({image, faces, width?, height?})
// into container, each face a box that opens the naming form on click.
function showLibraryPhoto(container, photo) {
  container.replaceChildren(photoStage(photo));
  $("result").hidden = false;
  $("stage").hidden = true;
  $("faces").hidden = true;
}

function photoStage(photo) {
  const stage = document.createElement("div");
  stage.className = "stage lib-stage";
  stage.dataset.photo = photo.id;
  const img = document.createElement("img");
  img.alt = "Photo " + photo.id + " of the library";
  const boxes = document.createElement("div");
  boxes.className = "boxes";
  stage.append(img, boxes);
  const draw = (w, h) => {
    stage.style.aspectRatio = w + " / " + h;
    boxes.replaceChildren(...photo.faces.map((f) => faceBox(f, w, h)));
  };
  // Boxes are in pixels of the upright photo, which is what the browser
  // shows; without the size from the upload, the image tells it.
  if (photo.width) draw(photo.width, photo.height);
  img.addEventListener("load", () => { if (!photo.width) draw(img.naturalWidth, img.naturalHeight); });
  img.addEventListener("error", () => stage.classList.add("no-preview"));
  img.src = photo.image.replace(/^\//, "");
  return stage;
}

function faceBox(f, width, height) {
  const box = document.createElement("button");
  box.type = "button";
  box.className = "box lib-box" + (f.person ? "" : " unknown");
  box.dataset.face = f.id;
  box.dataset.name = f.person;
  placeBox(box, f.box, width, height);
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = f.person || "who is this?";
  box.append(label);
  box.setAttribute("aria-label", (f.person || "Unnamed face") + ": name this face");
  box.addEventListener("click", () => openFaceForm(box, f));
  return box;
}

// openFaceForm puts a small naming form under a face box (beside it in the
// stage: a form inside a button would not take typing): a new name, or a
// correction, makes the face that person's (it enrols it).
function openFaceForm(box, f) {
  document.querySelectorAll(".face-form").forEach((el) => el.remove());
  const form = document.createElement("form");
  form.className = "face-form";
  const input = document.createElement("input");
  input.name = "name";
  input.setAttribute("list", "people-names");
  input.setAttribute("aria-label", "Name of this person");
  input.value = f.person || "";
  input.autocomplete = "off";
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const forget = document.createElement("button");
  forget.type = "button";
  forget.textContent = "Not a face I know";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  form.append(input, save, forget, cancel);
  cancel.addEventListener("click", () => form.remove());
  forget.addEventListener("click", async () => {
    const res = await api("POST", "api/v1/faces/" + f.id + "/forget");
    if (!res.ok) return failed("Could not forget the face", res);
    f.person = "";
    setBoxName(box, "");
    form.remove();
    refreshPeople();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    const res = await api("POST", "api/v1/faces/" + f.id + "/name", { name });
    if (!res.ok) return failed("Could not name the face", res);
    f.person = res.body.person;
    setBoxName(box, res.body.person);
    form.remove();
    refreshPeople();
  });
  form.style.left = box.style.left;
  form.style.top = "calc(" + box.style.top + " + " + box.style.height + ")";
  box.after(form);
  input.focus();
}

function setBoxName(box, name) {
  box.dataset.name = name;
  box.classList.toggle("unknown", !name);
  box.querySelector(".label").textContent = name || "who is this?";
}

// ---- People ---------------------------------------------------------------

// The people come a page at a time (GET api/v1/people is paged, so a
// library of 100,000 faces is not sent at once): "More people" loads the
// next page, and a refresh reloads as many as were shown, up to the
// server's page limit.
const peoplePage = 100, peoplePageMax = 500;
let peopleNext = "";

async function refreshPeople() {
  const limit = Math.min(peoplePageMax, Math.max(peoplePage, people.length));
  const res = await api("GET", "api/v1/people?limit=" + limit);
  if (!res.ok) return failed("Could not list the people", res);
  people = [];
  $("people").replaceChildren();
  showPeople(res.body);
}

// nextPage loads the page a list's next link names (a path from the
// server's root, made relative like every call of the page) and hands it
// to show; what names the list in the error.
async function nextPage(next, what, show) {
  if (!next) return;
  const res = await api("GET", next.replace(/^\//, ""));
  if (!res.ok) return failed("Could not list more " + what, res);
  show(res.body);
}

// showPeople appends a page of people to the list.
function showPeople(page) {
  people = people.concat(page.people);
  peopleNext = page.next || "";
  const names = $("people-names");
  names.replaceChildren(...people.filter((p) => p.name).map((p) => {
    const o = document.createElement("option");
    o.value = p.name;
    return o;
  }));
  $("people").append(...page.people.map(personCard));
  $("people-more").hidden = !peopleNext;
  $("people-shown").textContent = page.total > people.length ?
    "Showing " + people.length + " of " + page.total + " people." : "";
}

function personTitle(p) {
  return p.name || "Unnamed person " + p.id;
}

function personCard(p) {
  const li = document.createElement("li");
  li.className = "person" + (p.name ? "" : " unnamed");
  li.dataset.id = p.id;
  li.dataset.name = p.name;
  const h = document.createElement("h3");
  h.textContent = personTitle(p);
  const count = document.createElement("span");
  count.className = "count";
  count.textContent = facesText(p.face_count);
  h.append(" ", count);
  const faces = document.createElement("ul");
  faces.className = "person-faces";
  for (const f of p.faces) faces.append(faceTile(f));
  li.append(h, faces, nameForm(p), mergeForm(p));
  const photos = document.createElement("button");
  photos.type = "button";
  photos.className = "show-photos";
  photos.textContent = "Photos of " + personTitle(p);
  photos.addEventListener("click", () => showPersonPhotos(p));
  li.append(photos);
  return li;
}

function faceTile(f) {
  const li = document.createElement("li");
  li.className = "face";
  li.dataset.face = f.id;
  li.dataset.person = f.person;
  const img = document.createElement("img");
  img.className = "face-thumb";
  img.loading = "lazy";
  img.alt = f.person ? "Face of " + f.person : "An unnamed face";
  img.src = f.thumb.replace(/^\//, "");
  const name = document.createElement("span");
  name.className = "face-name";
  name.textContent = f.person || "unnamed";
  li.append(img, name);
  return li;
}

function nameForm(p) {
  const form = document.createElement("form");
  form.className = "name-person";
  const input = document.createElement("input");
  input.name = "name";
  input.setAttribute("list", "people-names");
  input.setAttribute("aria-label", "Name for " + personTitle(p));
  input.placeholder = p.name ? "rename" : "who is this?";
  input.autocomplete = "off";
  const b = document.createElement("button");
  b.type = "submit";
  b.textContent = p.name ? "Rename" : "Name";
  form.append(input, b);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    const res = await api("POST", "api/v1/people/" + p.id + "/name", { name });
    if (!res.ok) return failed("Could not name " + personTitle(p), res);
    showError("");
    setStatus(personTitle(p) + " is now " + name + ".");
    refreshPeople();
  });
  return form;
}

function mergeForm(p) {
  const form = document.createElement("form");
  form.className = "merge-person";
  const select = document.createElement("select");
  select.setAttribute("aria-label", "Merge " + personTitle(p) + " into");
  const none = document.createElement("option");
  none.value = "";
  none.textContent = "Same person as…";
  select.append(none);
  fillMerge(select, p);
  // People loaded by "More people" after this card join its choices.
  select.addEventListener("focus", () => fillMerge(select, p));
  const b = document.createElement("button");
  b.type = "submit";
  b.textContent = "Merge";
  form.append(select, b);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!select.value) return;
    const res = await api("POST", "api/v1/people/" + select.value + "/merge", { from: p.id });
    if (!res.ok) return failed("Could not merge " + personTitle(p), res);
    showError("");
    refreshPeople();
  });
  return form;
}

// fillMerge lists every loaded person but p in select, keeping the choice.
function fillMerge(select, p) {
  const chosen = select.value;
  select.replaceChildren(select.options[0]);
  for (const o of people) {
    if (o.id === p.id) continue;
    const opt = document.createElement("option");
    opt.value = o.id;
    opt.textContent = personTitle(o) + " (" + facesText(o.face_count) + ")";
    select.append(opt);
  }
  select.value = chosen;
}

// A person's photos come a page at a time too; "More photos" follows next.
let photosNext = "", photosShown = 0;

async function showPersonPhotos(p) {
  const res = await api("GET", "api/v1/people/" + p.id + "/photos");
  if (!res.ok) return failed("Could not list the photos of " + personTitle(p), res);
  $("person-photos-title").textContent = "Photos of " + personTitle(p) + " (" + res.body.total + ")";
  $("person-photo-list").replaceChildren();
  photosShown = 0;
  showPhotosPage(res.body);
  $("person-photos").hidden = false;
  $("person-photos").scrollIntoView({ block: "start" });
}

function showPhotosPage(page) {
  $("person-photo-list").append(...page.photos.map(photoStage));
  photosShown += page.photos.length;
  photosNext = page.next || "";
  $("photos-more").hidden = !photosNext;
  $("photos-shown").textContent = page.total > photosShown ?
    "Showing " + photosShown + " of " + page.total + " photos." : "";
}

// ---- Search ----------------------------------------------------------------

async function searchPerson(name) {
  if (!name) return;
  const res = await api("GET", "api/v1/search?top=24&person=" + encodeURIComponent(name));
  if (!res.ok) return failed("Could not search for " + name, res);
  showMatches("Faces nearest " + name, res.body.matches);
}

async function searchLike(file) {
  setStatus("Looking for the person in " + file.name + "…");
  const res = await sendPhoto("api/v1/search?top=24", file, () => {});
  setStatus("");
  if (!res.ok) return failed("Could not search like " + file.name, res);
  showMatches("Faces nearest the person in " + file.name, res.body.matches);
}

function showMatches(title, matches) {
  const out = $("search-results");
  const h = document.createElement("h3");
  h.textContent = title + (matches.length ? "" : ": none");
  const list = document.createElement("ul");
  list.className = "person-faces matches";
  for (const m of matches) {
    const tile = faceTile(m);
    const d = document.createElement("span");
    d.className = "distance";
    d.textContent = "distance " + m.distance.toFixed(2);
    tile.append(d);
    tile.tabIndex = 0;
    tile.title = "Show the photo";
    tile.addEventListener("click", () => openPhoto(m.photo_id));
    list.append(tile);
  }
  out.replaceChildren(h, list);
}

async function openPhoto(id) {
  const res = await api("GET", "api/v1/library/photos/" + id);
  if (!res.ok) return failed("Could not open the photo", res);
  showLibraryPhoto($("lib-photo"), res.body);
  $("result").scrollIntoView({ block: "start" });
}
