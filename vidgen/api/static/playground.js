// The playground page: key, form, the generation being watched, and the key's history.
// Everything goes to this page's own origin (see Api); nothing is loaded from elsewhere.

import { AccountView } from "./account.js";
import { AdminView } from "./admin.js";
import { Api, ApiError } from "./api.js";
import { HistoryView } from "./history.js";
import { formatBytes, nearestRatio, parseSize } from "./images.js";
import { KindInputs } from "./kinds.js";
import { ImagePicker } from "./picker.js";
import { ResultCard } from "./result.js";
import { forgetAll, savedKey, saveKey, savedNote, saveNote } from "./storage.js";
import { $, announce, sentence, showMessage } from "./ui.js";

const numberMeta = (name, fallback) =>
  Number(document.querySelector(`meta[name="${name}"]`)?.content) || fallback;

const MAX_BODY_BYTES = numberMeta("vidgen-max-body-bytes", 16 * 1024 * 1024);
const LIMITS = {
  maxBytes: numberMeta("vidgen-max-data-uri-bytes", 5 * 1024 * 1024),
  maxPixels: numberMeta("vidgen-max-image-pixels", 40_000_000),
  maxVideoBytes: numberMeta("vidgen-max-video-bytes", 64 * 1024 * 1024),
  upload: (file) => api.upload(file),
};
const SEED_MAX = 4_294_967_295;

const state = {
  models: [],
  model: null,
  ratio: null,
  ratioPickedByHand: false,
  duration: null,
  submitting: false,
  pending: null, // {body, key}: the Idempotency-Key of a create whose answer never came
  local: new Map(), // id → what this page sent: {model, prompt, duration, ratio, previewUrl}
  checkedKey: null, // the key whose history is shown
};

const keyInput = $("api-key");
const api = new Api(() => keyInput.value.trim());

/** What this browser sent for a generation: {prompt, duration}. */
function noteFor(id) {
  const local = state.local.get(id);
  return local ? { prompt: local.prompt, duration: local.duration } : savedNote(id);
}

// -- errors, where they belong ---------------------------------------------------------------

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
      return kindInputs.target(field);
  }
}

const FIELDS = ["key", "model", "image_url", "tail_image_url", "aspect_ratio", "duration", "prompt", "seed"];

function clearErrors() {
  for (const field of FIELDS) fieldTarget(field).clear();
  kindInputs.clearErrors();
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
function showApiError(error) {
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
    const target = fieldTarget(kindInputs.framed ? "image_url" : "video_url");
    target.show(error.message);
    target.focus();
    return;
  }
  showMessage($("submit-error"), sentence(error.message));
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
  if (state.checkedKey !== savedKey()) historyView.reset("Loading…");
  const ok = await historyView.load();
  if (state.checkedKey !== key) return; // another key was entered meanwhile
  if (ok) {
    saveKey(key);
    $("key-forget").hidden = false;
    showMessage($("key-status"), "✓ Key accepted and saved in this browser.");
    refreshBalance();
    accountView.load();
  } else {
    showMessage($("balance"), "");
    accountView.reset();
    showMessage($("key-status"), ""); // the reason is shown at the key, or by the history
  }
}

/** The key's balance, under the submit button (refunds and charges move it). */
async function refreshBalance() {
  if (!keyInput.value.trim()) return;
  try {
    const account = await api.account();
    const credits = account.credits === null ? "unlimited credits" : `${creditsText(account.credits)} left`;
    showMessage($("balance"), `Key “${account.name}”: ${credits}.`);
  } catch {
    showMessage($("balance"), "");
  }
}

function forgetKey() {
  forgetAll();
  keyInput.value = "";
  state.checkedKey = null;
  setKeyError("");
  $("key-forget").hidden = true;
  showMessage($("key-status"), "Forgotten: this browser no longer keeps a key.");
  showMessage($("balance"), "");
  historyView.reset();
  accountView.reset();
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
  const saved = savedKey();
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

/** "2–10 s" for every second between, "5 or 10 s" otherwise: never a range the model refuses. */
function durationsText(seconds) {
  const contiguous = seconds.every((s, i) => i === 0 || s === seconds[i - 1] + 1);
  if (seconds.length > 2 && contiguous) return `${seconds[0]}–${seconds.at(-1)} s`;
  return `${seconds.slice(0, -1).join(", ")}${seconds.length > 1 ? " or " : ""}${seconds.at(-1)} s`;
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
    // Named by title and id only; the rest describes it (a description may say "prompt",
    // which must not make the card a second control named Prompt).
    input.setAttribute("aria-label", `${model.title} ${model.id}`);
    const desc = label.querySelector(".model-desc");
    desc.id = `model-${index}-desc`;
    input.setAttribute("aria-describedby", desc.id);
    label.querySelector(".model-title").textContent = model.title;
    label.querySelector(".model-id").textContent = model.id;
    label.querySelector(".model-desc").textContent = model.description;
    label.querySelector(".model-meta").textContent = [
      `${Object.keys(model.aspect_ratios).length} ratios`,
      durationsText(seconds),
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
  document.querySelector("#first-image-label .required").hidden = !model.requires_image;
  kindInputs.setModel(model); // calls applyMode
  updatePrompt();
}

/** Show the inputs of the chosen mode: frames, ratio and duration are a prompt-and-images
 * form's; an input video's length and shape decide the others'. */
function applyMode() {
  const model = state.model;
  const framed = kindInputs.framed;
  $("first-image").hidden = !framed;
  $("ratio-field").hidden = !framed;
  $("duration-field").hidden = !framed;
  const tailOk = model.accepts_last_image;
  $("tail-details").hidden = !framed || !tailOk;
  showMessage($("tail-unsupported"), !framed || tailOk ? "" : `${model.title} does not take a last frame.`);
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
  const model = state.model;
  if (model && !kindInputs.framed) {
    // Charged by the output's length, which the input video decides.
    const longest = Math.max(...model.durations);
    const rate = Math.round((model.credits[String(longest)] / longest) * 10) / 10;
    $("submit-price").textContent = `${rate} credits/s`;
    return;
  }
  const credits = model?.credits[String(state.duration)];
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

async function submit(event) {
  event.preventDefault();
  if (state.submitting || !state.model) return;
  clearErrors();
  const model = state.model;
  await Promise.all([firstPicker.busy, tailPicker.busy, kindInputs.busy()]);
  const framed = kindInputs.framed;

  const problems = [];
  if (!keyInput.value.trim()) problems.push({ field: "key", message: "Paste your API key first" });
  // The model's own rule (`requires_image`), which the server applies in every dialect.
  if (framed && model.requires_image && !firstPicker.payload) {
    problems.push({ field: "image_url", message: "Choose, drop or paste an image, or give its URL" });
  }
  if (framed) {
    const urlProblems = [firstPicker.urlProblem("image_url"), tailPicker.urlProblem("tail_image_url")];
    problems.push(...urlProblems.filter(Boolean));
  }
  problems.push(...kindInputs.problems());
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
    ...(framed
      ? {
          image_url: firstPicker.payload ?? undefined,
          tail_image_url: tail ?? undefined,
          aspect_ratio: state.ratio,
          duration: state.duration,
        }
      : {}),
    ...kindInputs.body(),
    prompt: prompt.trim() ? prompt : undefined,
    seed: seedText ? Number(seedText) : undefined,
  };
  const size = new Blob([JSON.stringify(body)]).size;
  if (size > MAX_BODY_BYTES) {
    const field = framed ? "image_url" : kindInputs.mode === "character_performance" ? "character.url" : "video_url";
    showFieldErrors(
      [{ field, message: `Together the files make a ${formatBytes(size)} request; this server takes at most ${formatBytes(MAX_BODY_BYTES)}. Use smaller files` }],
      "",
    );
    return;
  }

  // A create whose answer was lost (network) is retried with the same Idempotency-Key, so
  // pressing Generate again cannot make, or charge for, the same video twice.
  const bodyText = JSON.stringify(body);
  if (state.pending?.body !== bodyText) state.pending = { body: bodyText, key: randomId() };
  setSubmitting(true);
  let created;
  try {
    created = await api.create(body, { idempotencyKey: state.pending.key });
    state.pending = null;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 0)) state.pending = null;
    showApiError(error);
    return;
  } finally {
    setSubmitting(false);
  }
  refreshBalance();
  if (keyInput.value.trim() !== state.checkedKey) {
    useKey({ quiet: true }); // a key typed and used at once: save it and show its history
  }
  saveNote(created.id, { prompt: prompt.trim(), duration: framed ? state.duration : undefined });
  state.local.set(created.id, {
    model: model.id,
    prompt: prompt.trim(),
    duration: framed ? state.duration : undefined,
    ratio: framed ? state.ratio : undefined,
    previewUrl: framed ? firstPicker.value?.previewUrl : undefined,
  });
  // The result card shows this preview while the job runs, so the picker must not free it.
  if (framed && firstPicker.value) firstPicker.value.kept = true;
  historyView.upsert({
    id: created.id,
    status: created.status,
    meta: {
      model: model.id,
      aspect_ratio: framed ? state.ratio : undefined,
      progress: 0,
      created_at: new Date().toISOString(),
    },
  });
  result.watch(created.id);
  result.reveal();
}

/** 128 random bits as hex (crypto.randomUUID needs a secure context; this page may not be). */
function randomId() {
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

function setSubmitting(on) {
  state.submitting = on;
  const button = $("submit");
  button.setAttribute("aria-busy", String(on));
  button.classList.toggle("busy", on);
  $("submit-label").textContent = on ? "Sending…" : "Generate";
}

// -- images: paste anywhere, never navigate away on a stray drop ------------------------------

function bindPageImages() {
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files ?? [])][0];
    if (!file) return;
    event.preventDefault();
    // Into the picker that has the focus, else the first one the form shows.
    const shown = [...document.querySelectorAll("#create .image-field")].filter(
      (host) => !host.closest("[hidden]"),
    );
    const host = shown.find((h) => h.contains(document.activeElement)) ?? shown[0];
    pickers.get(host)?.takeFile(file);
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
const kindInputs = new KindInputs({
  limits: LIMITS,
  onModeChange: () => applyMode(),
  onChange: () => {},
});
/** Every picker of the form, by the element it sits in (for a paste). */
const pickers = {
  get: (host) =>
    ({ "first-image": firstPicker, "tail-image": tailPicker })[host?.id] ??
    kindInputs.pickerIn(host),
};
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
      result.watch(id, { focus: true });
      result.reveal();
    },
    onCancel: (id) => result.cancel(id),
    onError: (error) => {
      if (error instanceof ApiError && error.status === 401) showApiError(error);
    },
    noteFor,
  },
);
const result = new ResultCard({
  api,
  history: historyView,
  noteFor,
  sentFor: (id) => state.local.get(id),
  frameSize: (modelId, ratio) => {
    const model = state.models.find((m) => m.id === modelId || m.aliases.includes(modelId));
    const sizes = model ? [model] : state.models;
    return sizes.map((m) => m.aspect_ratios[ratio]).find((size) => size !== undefined);
  },
  onError: (error) => showApiError(error),
  onEnded: () => {
    refreshBalance(); // a failure or a cancel refunds
    accountView.load();
  },
  onReuseSeed: (seed) => {
    $("seed").value = seed;
    $("seed-clear").hidden = false;
    fieldTarget("seed").clear();
    $("seed").focus();
    announce(`Seed ${seed} will be used for the next video.`);
  },
});

const adminView = new AdminView({ api });
const accountView = new AccountView({ api, onAdmin: (account) => adminView.show(account) });

$("create").addEventListener("submit", submit);
bindKey();
bindPromptAndSeed();
bindPageImages();
loadModels();
updatePrompt();
