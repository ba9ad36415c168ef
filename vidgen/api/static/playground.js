// The playground page: key, form, the generation being watched, and the key's history.
// Everything goes to this page's own origin (see Api); nothing is loaded from elsewhere.

import { Api, ApiError } from "./api.js";
import { HistoryView, displayStatus, isActive, shortModel } from "./history.js";
import { formatBytes, nearestRatio, parseSize } from "./images.js";
import { ImagePicker } from "./picker.js";

const $ = (id) => document.getElementById(id);
const numberMeta = (name, fallback) =>
  Number(document.querySelector(`meta[name="${name}"]`)?.content) || fallback;

const LIMITS = {
  maxBytes: numberMeta("vidgen-max-data-uri-bytes", 5 * 1024 * 1024),
  maxPixels: numberMeta("vidgen-max-image-pixels", 40_000_000),
};
const MAX_BODY_BYTES = numberMeta("vidgen-max-body-bytes", 16 * 1024 * 1024);
const SEED_MAX = 4_294_967_295;
const POLL_MS = 700;
const STORE = { key: "vidgen.playground.key", notes: "vidgen.playground.notes" };
/** How many generations' prompts (which the API does not return) this browser remembers. */
const REMEMBERED_NOTES = 200;

const state = {
  models: [],
  model: null,
  ratio: null,
  ratioPickedByHand: false,
  duration: null,
  submitting: false,
  current: null, // id of the generation shown in the result card
  watch: 0, // bumps whenever the result card switches generation, to stop the old poller
  local: new Map(), // id → what this page sent: {prompt, duration, ratio, previewUrl}
  lastStatus: null,
  checkedKey: null,
  seed: null, // the seed of the generation shown, for "Use this seed"
};

const keyInput = $("api-key");
const api = new Api(() => keyInput.value.trim());

// -- storage (may be unavailable: private windows, disabled storage) --------------------------

function stored(name) {
  try {
    return window.localStorage.getItem(name);
  } catch {
    return null;
  }
}

function store(name, value) {
  try {
    if (value === null) window.localStorage.removeItem(name);
    else window.localStorage.setItem(name, value);
  } catch {
    /* the page still works, it just forgets on reload */
  }
}

function rememberedNotes() {
  try {
    return JSON.parse(stored(STORE.notes) ?? "{}") ?? {};
  } catch {
    return {};
  }
}

/** What this browser sent for a generation: {prompt, duration}. */
function noteFor(id) {
  const local = state.local.get(id);
  return local ? { prompt: local.prompt, duration: local.duration } : rememberedNotes()[id];
}

function rememberNote(id, note) {
  const notes = rememberedNotes();
  notes[id] = note;
  const ids = Object.keys(notes);
  for (const old of ids.slice(0, Math.max(0, ids.length - REMEMBERED_NOTES))) delete notes[old];
  store(STORE.notes, JSON.stringify(notes));
}

// -- messages -------------------------------------------------------------------------------

function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function announce(text) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // A fresh node each time, so the same words are read again.
  window.setTimeout(() => (announcer.textContent = text), 50);
}

function showMessage(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

/** Every place a field's error can appear: its message element and what to focus. */
function fieldTarget(field) {
  const simple = (errorId, control, container) => ({
    show(message) {
      showMessage($(errorId), message);
      control()?.setAttribute("aria-invalid", "true");
      container?.classList.add("invalid");
    },
    clear() {
      showMessage($(errorId), "");
      control()?.removeAttribute("aria-invalid");
      container?.classList.remove("invalid");
    },
    focus: () => control()?.focus(),
  });
  const picker = (p, before = () => {}) => ({
    show(message) {
      before();
      p.showError(message);
    },
    clear: () => p.clearError(),
    focus: () => p.focus(),
  });
  switch (field) {
    case "key":
      return simple("key-error", () => keyInput);
    case "model":
      return simple("model-error", () => document.querySelector('input[name="model"]:checked'));
    case "image_url":
      return picker(firstPicker);
    case "tail_image_url":
    case "last_image_url":
      return picker(tailPicker, () => ($("tail-details").open = true));
    case "aspect_ratio":
    case "ratio":
      return simple("ratio-error", () => document.querySelector('input[name="ratio"]:checked'), $("ratio-field"));
    case "duration":
      return simple("duration-error", () => document.querySelector('input[name="duration"]:checked'), $("duration-field"));
    case "prompt":
      return simple("prompt-error", () => $("prompt"));
    case "seed":
      return simple("seed-error", () => $("seed"));
    default:
      return null;
  }
}

const FIELDS = ["key", "model", "image_url", "tail_image_url", "aspect_ratio", "duration", "prompt", "seed"];

function clearErrors() {
  for (const field of FIELDS) fieldTarget(field).clear();
  showMessage($("submit-error"), "");
}

/** Show each problem by its field; what has no field goes by the submit button. */
function showFieldErrors(problems, summary) {
  const loose = [];
  let first = null;
  for (const { field, message } of problems) {
    const target = fieldTarget(field);
    if (target) {
      target.show(sentence(message));
      first ??= target;
    } else {
      loose.push(`${field}: ${message}`);
    }
  }
  const text = [summary, ...loose.map(sentence)].filter(Boolean).join(" ");
  showMessage($("submit-error"), text);
  first?.focus();
  announce(text || problems.map((p) => sentence(p.message)).join(" "));
}

/** An ApiError, shown where it belongs: the key, the fields, or the submit button. */
function showApiError(error, { where = "submit" } = {}) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    showMessage($("submit-error"), "Something went wrong in the page. Reload and try again.");
    return;
  }
  if (error.status === 401) {
    setKeyError(error.message);
    keyInput.focus();
    return;
  }
  if (error.status === 400 && error.fields.length) {
    showFieldErrors(error.fields, "The server could not accept this; see the marked fields.");
    return;
  }
  if (error.status === 413) {
    fieldTarget("image_url").show(error.message);
    firstPicker.focus();
    return;
  }
  const element = where === "result" ? $("result-error") : $("submit-error");
  showMessage(element, sentence(error.message));
  announce(sentence(error.message));
}

// -- the key --------------------------------------------------------------------------------

function setKeyError(message) {
  const target = fieldTarget("key");
  if (message) target.show(sentence(message));
  else target.clear();
  if (message) showMessage($("key-status"), "");
}

async function useKey({ quiet = false } = {}) {
  const key = keyInput.value.trim();
  setKeyError("");
  if (!key) {
    setKeyError("Paste a key first.");
    keyInput.focus();
    return;
  }
  state.checkedKey = key;
  $("key-status").textContent = quiet ? "" : "Checking…";
  if (state.checkedKey !== stored(STORE.key)) historyView.reset("Loading…");
  const ok = await historyView.load();
  if (state.checkedKey !== key) return; // another key was entered meanwhile
  if (ok) {
    store(STORE.key, key);
    $("key-forget").hidden = false;
    showMessage($("key-status"), "✓ Key accepted and saved in this browser.");
  } else {
    showMessage($("key-status"), ""); // the reason is shown at the key, or by the history
  }
}

function forgetKey() {
  store(STORE.key, null);
  store(STORE.notes, null);
  keyInput.value = "";
  state.checkedKey = null;
  setKeyError("");
  $("key-forget").hidden = true;
  showMessage($("key-status"), "Forgotten: this browser no longer keeps a key.");
  historyView.reset();
  keyInput.focus();
}

function bindKey() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useKey();
  });
  keyInput.addEventListener("change", () => {
    if (keyInput.value.trim() && keyInput.value.trim() !== state.checkedKey) useKey();
  });
  keyInput.addEventListener("input", () => setKeyError(""));
  $("key-reveal").addEventListener("click", () => {
    const reveal = keyInput.type === "password";
    keyInput.type = reveal ? "text" : "password";
    $("key-reveal").textContent = reveal ? "Hide" : "Show";
    $("key-reveal").setAttribute("aria-pressed", String(reveal));
  });
  $("key-forget").addEventListener("click", forgetKey);
  const saved = stored(STORE.key);
  if (saved) {
    keyInput.value = saved;
    $("key-forget").hidden = false;
    useKey({ quiet: true });
  }
}

// -- models, ratios, durations --------------------------------------------------------------

function radio(name, value, id, checked) {
  const input = document.createElement("input");
  Object.assign(input, { type: "radio", name, value, id, checked });
  input.className = "visually-hidden";
  return input;
}

function creditsText(credits) {
  return `${credits} credit${credits === 1 ? "" : "s"}`;
}

function renderModels() {
  const box = $("model-options");
  box.replaceChildren();
  state.models.forEach((model, index) => {
    const input = radio("model", model.id, `model-${index}`, model.id === state.model.id);
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.className = "model-card";
    const prices = Object.values(model.credits);
    const seconds = model.durations;
    label.innerHTML = `
      <span class="model-title"></span>
      <span class="model-id mono"></span>
      <span class="model-desc"></span>
      <span class="model-meta"></span>`;
    label.querySelector(".model-title").textContent = model.title;
    label.querySelector(".model-id").textContent = model.id;
    label.querySelector(".model-desc").textContent = model.description;
    label.querySelector(".model-meta").textContent = [
      `${Object.keys(model.aspect_ratios).length} ratios`,
      seconds.length > 1 ? `${Math.min(...seconds)}–${Math.max(...seconds)} s` : `${seconds[0]} s`,
      `from ${creditsText(Math.min(...prices))}`,
      `engine ${model.engine}`,
    ].join(" · ");
    input.addEventListener("change", () => selectModel(model.id));
    const wrap = document.createElement("div");
    wrap.className = "model-option";
    wrap.append(input, label);
    box.append(wrap);
  });
}

function selectModel(id) {
  state.model = state.models.find((m) => m.id === id) ?? state.models[0];
  const model = state.model;
  if (!(state.ratio in model.aspect_ratios)) {
    state.ratio = null;
    state.ratioPickedByHand = false;
  }
  if (!model.durations.includes(state.duration)) state.duration = model.default_duration;
  renderRatios();
  renderDurations();
  matchRatioToImage();
  const tailOk = model.accepts_last_image;
  $("tail-details").hidden = !tailOk;
  showMessage($("tail-unsupported"), tailOk ? "" : `${model.title} does not take a last frame.`);
  $("first-image-label").querySelector(".required").hidden = !model.requires_image;
  updatePrompt();
  updatePrice();
}

function renderRatios() {
  const box = $("ratio-options");
  box.replaceChildren();
  const model = state.model;
  state.ratio ??= model.default_aspect_ratio;
  for (const [ratio, size] of Object.entries(model.aspect_ratios)) {
    const { width, height } = parseSize(size);
    const input = radio("ratio", ratio, `ratio-${ratio.replace(":", "-")}`, ratio === state.ratio);
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.className = "chip";
    label.innerHTML = `<span class="ratio-icon" aria-hidden="true"></span><span class="chip-main"></span><span class="chip-sub"></span>`;
    const scale = 18 / Math.max(width, height);
    label.querySelector(".ratio-icon").style.setProperty("--w", `${Math.round(width * scale)}px`);
    label.querySelector(".ratio-icon").style.setProperty("--h", `${Math.round(height * scale)}px`);
    label.querySelector(".chip-main").textContent = ratio;
    label.querySelector(".chip-sub").textContent = `${width}×${height}`;
    input.addEventListener("change", () => {
      state.ratioPickedByHand = true;
      setRatio(ratio);
    });
    box.append(input, label);
  }
  setRatio(state.ratio);
}

function setRatio(ratio) {
  state.ratio = ratio;
  const input = document.querySelector(`input[name="ratio"][value="${ratio}"]`);
  if (input) input.checked = true;
  fieldTarget("aspect_ratio").clear();
  const { width, height } = parseSize(state.model.aspect_ratios[ratio]);
  const frame = { ratio, width, height };
  firstPicker.setFrame(frame);
  tailPicker.setFrame(frame);
  updateRatioHint();
}

function updateRatioHint() {
  const size = firstPicker.size;
  let hint = "The image fills the frame; what sticks out is cut equally from both sides.";
  if (size) {
    const best = nearestRatio(state.model.aspect_ratios, size.width, size.height);
    hint =
      best === state.ratio
        ? `${state.ratio} is the closest to your ${size.width}×${size.height} image. The bright area of the preview is what the video keeps.`
        : `Your image is ${size.width}×${size.height}; the bright area of the preview is what a ${state.ratio} video keeps.`;
  }
  $("ratio-hint").textContent = hint;
}

/** Until the user picks a ratio, follow the first image's shape (the server's own rule). */
function matchRatioToImage() {
  const size = firstPicker.size;
  if (size && !state.ratioPickedByHand) {
    const best = nearestRatio(state.model.aspect_ratios, size.width, size.height);
    if (best) {
      setRatio(best);
      return;
    }
  }
  updateRatioHint();
}

function renderDurations() {
  const box = $("duration-options");
  box.replaceChildren();
  for (const seconds of state.model.durations) {
    const input = radio("duration", String(seconds), `duration-${seconds}`, seconds === state.duration);
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.className = "chip";
    label.innerHTML = `<span class="chip-main"></span><span class="chip-sub"></span>`;
    label.querySelector(".chip-main").textContent = `${seconds} s`;
    label.querySelector(".chip-sub").textContent = creditsText(state.model.credits[String(seconds)]);
    input.addEventListener("change", () => {
      state.duration = seconds;
      fieldTarget("duration").clear();
      updatePrice();
    });
    box.append(input, label);
  }
}

function updatePrice() {
  const credits = state.model?.credits[String(state.duration)];
  $("submit-price").textContent = credits === undefined ? "" : creditsText(credits);
}

async function loadModels() {
  try {
    state.models = await api.models();
  } catch (error) {
    const box = $("model-options");
    box.replaceChildren();
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "button";
    retry.textContent = "Try again";
    retry.addEventListener("click", loadModels);
    showMessage($("model-error"), `The models could not be loaded. ${sentence(error.message)}`);
    box.append(retry);
    return;
  }
  showMessage($("model-error"), "");
  state.model = state.models[0];
  state.duration = state.model.default_duration;
  renderModels();
  selectModel(state.model.id);
}

// -- prompt and seed -------------------------------------------------------------------------

function updatePrompt() {
  const max = state.model?.max_prompt_chars ?? 1000;
  const length = $("prompt").value.length;
  const counter = $("prompt-count");
  const over = length - max;
  counter.textContent = over > 0 ? `${length} / ${max} · ${over} too many` : `${length} / ${max}`;
  counter.classList.toggle("near", length > max * 0.9 && over <= 0);
  counter.classList.toggle("over", over > 0);
  const wasOver = $("prompt").getAttribute("aria-invalid") === "true";
  if (over > 0 && !wasOver) {
    fieldTarget("prompt").show(`The prompt is ${over} character${over === 1 ? "" : "s"} over the ${max}-character limit.`);
  } else if (over > 0) {
    showMessage($("prompt-error"), `The prompt is ${over} character${over === 1 ? "" : "s"} over the ${max}-character limit.`);
  } else if (wasOver) {
    fieldTarget("prompt").clear();
  }
}

function bindPromptAndSeed() {
  $("prompt").addEventListener("input", updatePrompt);
  const seed = $("seed");
  const syncSeed = () => {
    $("seed-clear").hidden = !seed.value;
    fieldTarget("seed").clear();
  };
  seed.addEventListener("input", syncSeed);
  $("seed-random").addEventListener("click", () => {
    seed.value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
    syncSeed();
  });
  $("seed-clear").addEventListener("click", () => {
    seed.value = "";
    syncSeed();
    seed.focus();
  });
}

// -- submit ---------------------------------------------------------------------------------

function checkUrl(picker, field) {
  const value = picker.value;
  if (value?.kind !== "url" || value.payload.startsWith("data:")) return null;
  try {
    const url = new URL(value.payload);
    if (url.protocol === "https:" || url.protocol === "http:") return null;
  } catch {
    /* fall through */
  }
  return { field, message: "Enter a full address starting with https://" };
}

async function submit(event) {
  event.preventDefault();
  if (state.submitting || !state.model) return;
  clearErrors();
  const model = state.model;
  await Promise.all([firstPicker.busy, tailPicker.busy]);

  const problems = [];
  if (!keyInput.value.trim()) problems.push({ field: "key", message: "Paste your API key first" });
  if (model.requires_image && !firstPicker.payload) {
    problems.push({ field: "image_url", message: "Choose, drop or paste an image, or give its URL" });
  }
  const urlProblems = [checkUrl(firstPicker, "image_url"), checkUrl(tailPicker, "tail_image_url")];
  problems.push(...urlProblems.filter(Boolean));
  const prompt = $("prompt").value;
  if (prompt.length > model.max_prompt_chars) {
    const over = prompt.length - model.max_prompt_chars;
    problems.push({ field: "prompt", message: `Shorten the prompt by ${over} character${over === 1 ? "" : "s"} (at most ${model.max_prompt_chars})` });
  }
  const seedText = $("seed").value.trim();
  if (seedText && !(/^\d+$/.test(seedText) && Number(seedText) <= SEED_MAX)) {
    problems.push({ field: "seed", message: `Use a whole number from 0 to ${SEED_MAX}, or leave it blank` });
  }
  if (problems.length) {
    showFieldErrors(problems, "");
    return;
  }

  const tail = model.accepts_last_image ? tailPicker.payload : null;
  const body = {
    model: model.id,
    image_url: firstPicker.payload ?? undefined,
    tail_image_url: tail ?? undefined,
    prompt: prompt.trim() ? prompt : undefined,
    aspect_ratio: state.ratio,
    duration: state.duration,
    seed: seedText ? Number(seedText) : undefined,
  };
  const size = new Blob([JSON.stringify(body)]).size;
  if (size > MAX_BODY_BYTES) {
    showFieldErrors(
      [{ field: "image_url", message: `Together the images make a ${formatBytes(size)} request; this server takes at most ${formatBytes(MAX_BODY_BYTES)}. Use smaller images` }],
      "",
    );
    return;
  }

  setSubmitting(true);
  let created;
  try {
    created = await api.create(body);
  } catch (error) {
    showApiError(error);
    return;
  } finally {
    setSubmitting(false);
  }
  if (keyInput.value.trim() !== state.checkedKey) {
    useKey({ quiet: true }); // a key typed and used at once: save it and show its history
  }
  rememberNote(created.id, { prompt: prompt.trim(), duration: state.duration });
  state.local.set(created.id, {
    prompt: prompt.trim(),
    duration: state.duration,
    ratio: state.ratio,
    previewUrl: firstPicker.value?.previewUrl,
  });
  // The result card shows this preview while the job runs, so the picker must not free it.
  if (firstPicker.value) firstPicker.value.kept = true;
  historyView.upsert({
    id: created.id,
    status: created.status,
    meta: { model: model.id, aspect_ratio: state.ratio, progress: 0, created_at: new Date().toISOString() },
  });
  watch(created.id);
  revealResult();
}

function setSubmitting(on) {
  state.submitting = on;
  const button = $("submit");
  button.setAttribute("aria-busy", String(on));
  button.classList.toggle("busy", on);
  $("submit-label").textContent = on ? "Sending…" : "Generate";
}

// -- the result card ------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

/** Show one generation in the result card and follow it until it ends. */
async function watch(id, { focus = false } = {}) {
  const ticket = ++state.watch;
  const switching = state.current !== id;
  state.current = id;
  state.lastStatus = null;
  historyView.select(id);
  $("result-empty").hidden = true;
  $("result").hidden = false;
  showMessage($("result-error"), "");
  $("result-id").textContent = id;
  if (switching) resetStage(id);
  if (focus) $("result-title").focus();

  let failures = 0;
  for (;;) {
    let generation;
    try {
      generation = await api.get(id);
      failures = 0;
    } catch (error) {
      if (ticket !== state.watch) return;
      if (error instanceof ApiError && error.status === 404) {
        showMessage($("result-error"), "This generation does not belong to the key in use.");
        return;
      }
      if (error instanceof ApiError && error.status === 401) {
        showApiError(error);
        return;
      }
      failures++;
      showMessage($("result-error"), `${sentence(error.message)} Retrying…`);
      const backoff = Math.min(10_000, POLL_MS * 2 ** failures);
      await sleep(error instanceof ApiError && error.retryAfter ? error.retryAfter * 1000 : backoff);
      continue;
    }
    if (ticket !== state.watch) return;
    showMessage($("result-error"), "");
    renderGeneration(generation);
    historyView.upsert(generation);
    if (!isActive(generation)) return;
    await sleep(POLL_MS);
    if (ticket !== state.watch) return;
  }
}

function resetStage(id) {
  const video = $("video");
  video.pause();
  video.removeAttribute("src");
  video.removeAttribute("poster");
  video.load();
  video.hidden = true;
  const local = state.local.get(id);
  const image = $("stage-image");
  if (local?.previewUrl) {
    image.src = local.previewUrl;
    image.hidden = false;
  } else {
    image.removeAttribute("src");
    image.hidden = true;
  }
  $("download").hidden = true;
  $("facts").replaceChildren();
  setStageShape(local?.ratio ?? state.ratio);
}

function setStageShape(ratio) {
  const size = state.models.flatMap((m) => Object.entries(m.aspect_ratios)).find(([r]) => r === ratio)?.[1];
  const { width, height } = size ? parseSize(size) : { width: 16, height: 9 };
  $("stage").style.setProperty("--ar", String(width / height));
  $("stage").classList.toggle("portrait", height > width);
}

const STATUS_TEXT = {
  queued: "Queued: waiting for a worker.",
  generating: "Generating…",
  completed: "Done: your video is ready.",
  failed: "Failed.",
  cancelled: "Cancelled. Its credits were refunded.",
};

function renderGeneration(g) {
  const status = displayStatus(g);
  const meta = g.meta ?? {};
  const local = state.local.get(g.id);
  setStageShape(meta.aspect_ratio ?? local?.ratio);

  $("status-badge").textContent = status;
  $("status-badge").className = `badge badge-${status}`;
  if (status !== state.lastStatus) {
    state.lastStatus = status;
    $("status-text").textContent =
      status === "failed" && g.error ? `Failed: ${sentence(g.error.message)}` : STATUS_TEXT[status];
  }
  const percent = status === "completed" ? 100 : Math.round((meta.progress ?? 0) * 100);
  const bar = $("progress");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute("aria-valuetext", status === "queued" ? "Waiting in the queue" : `${percent}%`);
  bar.style.setProperty("--p", `${percent}%`);
  bar.classList.toggle("waiting", status === "queued");
  bar.classList.toggle("done", !isActive(g));
  bar.dataset.status = status;
  updateElapsed(g);

  const video = $("video");
  const image = $("stage-image");
  $("stage-overlay").hidden = !isActive(g);
  if (status === "completed" && g.video?.url) {
    if (video.getAttribute("src") !== g.video.url) {
      if (meta.thumbnail_url) video.poster = meta.thumbnail_url;
      video.src = g.video.url;
      video.play().catch(() => {
        /* autoplay refused: the controls are there */
      });
    }
    video.hidden = false;
    image.hidden = true;
    const download = $("download");
    download.href = g.video.url;
    download.download = `vidgen-${g.id}.mp4`;
    download.hidden = false;
  } else if (!local?.previewUrl && meta.thumbnail_url) {
    image.src = meta.thumbnail_url;
    image.hidden = false;
  }
  $("stage").classList.toggle("pending", isActive(g));
  $("stage").classList.toggle("ended", status === "failed" || status === "cancelled");

  showMessage(
    $("result-error"),
    status === "failed" && g.error ? `${g.error.name}: ${sentence(g.error.message)}` : "",
  );
  renderFacts(g);
  $("cancel-current").hidden = !isActive(g);
  state.seed = meta.seed === undefined ? null : String(meta.seed);
  $("reuse-seed").hidden = state.seed === null;
}

function renderFacts(g) {
  const meta = g.meta ?? {};
  const note = noteFor(g.id);
  const duration = g.duration ?? note?.duration;
  const facts = [
    ["Model", shortModel(meta.model)],
    ["Ratio", meta.aspect_ratio],
    ["Duration", duration ? `${duration} s` : null],
    ["Seed", meta.seed !== undefined ? String(meta.seed) : null],
    ["Credits", meta.usage ? String(meta.usage.credits_used) : null],
    ["Engine", meta.engine],
  ];
  if (note?.prompt) facts.push(["Prompt", note.prompt]);
  const list = $("facts");
  list.replaceChildren();
  for (const [name, value] of facts) {
    if (value === null || value === undefined || value === "") continue;
    const wrap = document.createElement("div");
    wrap.className = name === "Prompt" ? "fact fact-wide" : "fact";
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (name === "Seed") dd.className = "mono";
    wrap.append(dt, dd);
    list.append(wrap);
  }
}

let elapsedTimer = null;

function updateElapsed(g) {
  window.clearInterval(elapsedTimer);
  const started = Date.parse(g.meta?.created_at);
  const element = $("elapsed");
  if (Number.isNaN(started)) {
    element.textContent = "";
    return;
  }
  if (!isActive(g)) {
    const ended = Date.parse(g.meta?.completed_at);
    element.textContent = Number.isNaN(ended) ? "" : `took ${Math.max(0, (ended - started) / 1000).toFixed(1)} s`;
    return;
  }
  const tick = () => {
    const seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
    element.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  };
  tick();
  elapsedTimer = window.setInterval(tick, 500);
}

async function cancel(id) {
  try {
    const generation = await api.cancel(id);
    historyView.upsert(generation);
    if (state.current === id) renderGeneration(generation);
    announce(isActive(generation) ? "Cancelling: the engine stops at its next check." : "Cancelled.");
  } catch (error) {
    showApiError(error, { where: "result" });
  }
}

/** On a phone the result card is below the form: bring it into view. */
function revealResult() {
  const card = $("result-card");
  const box = card.getBoundingClientRect();
  if (box.top > window.innerHeight || box.bottom < 0) {
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    card.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "start" });
  }
}

function bindResult() {
  $("cancel-current").addEventListener("click", () => state.current && cancel(state.current));
  $("reuse-seed").addEventListener("click", () => {
    const seed = state.seed;
    if (seed === null) return;
    $("seed").value = seed;
    $("seed-clear").hidden = false;
    fieldTarget("seed").clear();
    $("seed").focus();
    announce(`Seed ${seed} will be used for the next video.`);
  });
}

// -- images: paste anywhere, never navigate away on a stray drop ------------------------------

function bindPageImages() {
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files ?? [])][0];
    if (!file) return;
    event.preventDefault();
    const inTail = $("tail-image").contains(document.activeElement) && state.model?.accepts_last_image;
    (inTail ? tailPicker : firstPicker).takeFile(file);
  });
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (!event.target.closest?.(".dropzone")) event.preventDefault();
    });
  }
}

// -- start ----------------------------------------------------------------------------------

const firstPicker = new ImagePicker($("first-image"), {
  prefix: "first-image",
  labelId: "first-image-label",
  frameName: "first frame",
  limits: LIMITS,
  onChange: () => {
    fieldTarget("image_url").clear();
    if (state.model) matchRatioToImage();
  },
});
const tailPicker = new ImagePicker($("tail-image"), {
  prefix: "tail-image",
  labelId: "tail-image-label",
  frameName: "last frame",
  limits: LIMITS,
  onChange: () => {
    $("tail-set").hidden = !tailPicker.value;
  },
});
const historyView = new HistoryView(
  {
    list: $("history-list"),
    status: $("history-status"),
    more: $("history-more"),
    refresh: $("history-refresh"),
  },
  {
    api,
    onOpen: (id) => {
      watch(id, { focus: true });
      revealResult();
    },
    onCancel: cancel,
    onError: (error) => {
      if (error instanceof ApiError && error.status === 401) showApiError(error);
    },
    noteFor,
  },
);

$("create").addEventListener("submit", submit);
bindKey();
bindPromptAndSeed();
bindResult();
bindPageImages();
loadModels();
updatePrompt();
