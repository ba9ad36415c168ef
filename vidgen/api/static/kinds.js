// The inputs a model's kind needs beyond a prompt and frames: what to make the video from (for a
// model that does several kinds), an input video, reference images, a character and the
// performance that drives it, and the model's own options. Each is sent in the aimlapi
// dialect's own field (vidgen/api/aimlapi.py), and a problem with one is shown beside it.

import { ImagePicker } from "./picker.js";
import { $, showMessage } from "./ui.js";

/** The modes of the form: "images" is a prompt and frames (text or image to video). */
const MODE_WORDS = {
  images: "From text or images",
  video_to_video: "From a video",
  character_performance: "Character performance",
  upscale: "Upscale a video",
  frame_rate: "Raise the frame rate",
};
const VIDEO_MODES = new Set(["video_to_video", "upscale", "frame_rate"]);
/** A URL's type when the page cannot look at its bytes: by its extension. */
const VIDEO_PATH = /\.(mp4|mov|webm)$/i;

/** The modes a model offers, from `kinds` in /v1/models. */
export function modesOf(model) {
  const modes = [];
  if (model.kinds.includes("text_to_video") || model.kinds.includes("image_to_video")) modes.push("images");
  for (const kind of ["video_to_video", "character_performance", "upscale", "frame_rate"]) {
    if (model.kinds.includes(kind)) modes.push(kind);
  }
  return modes;
}

const ACRONYMS = new Set(["fps", "cfg"]);

/** "body_control" → "Body control", "fps_boost" → "FPS boost" */
function labelOf(name) {
  const words = name.split("_").map((word) => (ACRONYMS.has(word) ? word.toUpperCase() : word));
  const text = words.join(" ");
  return text[0].toUpperCase() + text.slice(1);
}

function picked(picker) {
  const value = picker.value;
  return value ? value.payload : null;
}

export class KindInputs {
  /**
   * @param {{limits: object, onModeChange: () => void, onChange: () => void}} hooks
   *   limits: the pickers' limits (with maxVideoBytes and upload for the videos)
   */
  constructor({ limits, onModeChange, onChange }) {
    this.limits = limits;
    this.onModeChange = onModeChange;
    this.onChange = onChange;
    this.model = null;
    this.mode = "images";
    this.references = []; // {host, picker}, in the order shown
    this.sentReferences = []; // the pickers whose images the last request sent, by index
    const make = (id, media, frameName) =>
      new ImagePicker($(id), {
        prefix: id,
        labelId: `${id}-label`,
        frameName,
        limits,
        media,
        onChange: () => {
          $(id).classList.remove("invalid");
          onChange();
        },
      });
    this.video = make("input-video", "video", "input video");
    this.character = make("character", "either", "character");
    this.performance = make("performance", "video", "reference performance");
    $("references-add").addEventListener("click", () => {
      this.addReference().picker.fileInput.focus();
    });
  }

  /** Show what `model` takes; keeps the mode when the model offers it too. */
  setModel(model) {
    this.model = model;
    const modes = modesOf(model);
    if (!modes.includes(this.mode)) this.mode = modes[0];
    const box = $("mode-options");
    box.replaceChildren();
    for (const mode of modes) {
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: "mode", value: mode, id: `mode-${mode}` });
      input.className = "visually-hidden";
      input.checked = mode === this.mode;
      input.addEventListener("change", () => this.setMode(mode));
      const label = document.createElement("label");
      label.htmlFor = input.id;
      label.className = "chip";
      label.textContent = MODE_WORDS[mode];
      box.append(input, label);
    }
    $("mode-field").hidden = modes.length < 2;
    this.renderReferences();
    this.renderOptions();
    this.setMode(this.mode);
  }

  setMode(mode) {
    this.mode = mode;
    $("input-video").hidden = !VIDEO_MODES.has(mode);
    $("character").hidden = mode !== "character_performance";
    $("performance").hidden = mode !== "character_performance";
    // Upscales and frame-rate enhancements take the input video and nothing else.
    $("references-field").hidden = !(this.model.max_references > 0) || mode === "upscale" || mode === "frame_rate";
    this.onModeChange();
  }

  /** Whether the form is a prompt and frames (the ratio, duration and frames apply). */
  get framed() {
    return this.mode === "images";
  }

  renderReferences() {
    const max = this.model.max_references;
    for (const { host, picker } of this.references.splice(max)) {
      picker.clear();
      host.remove();
    }
    if (max > 0 && this.references.length === 0) this.addReference();
    this.updateReferenceCount();
  }

  addReference() {
    const index = this.references.length;
    const id = `reference-${index}`;
    const host = document.createElement("div");
    host.className = "image-field reference";
    host.id = id;
    const label = document.createElement("span");
    label.className = "label label-small";
    label.id = `${id}-label`;
    label.textContent = `Reference image ${index + 1}`;
    host.append(label);
    $("references-list").append(host);
    const picker = new ImagePicker(host, {
      prefix: id,
      labelId: label.id,
      frameName: `reference image ${index + 1}`,
      limits: this.limits,
      onChange: () => {
        showMessage($("references-error"), "");
        this.onChange();
      },
    });
    const entry = { host, picker };
    this.references.push(entry);
    this.updateReferenceCount();
    return entry;
  }

  updateReferenceCount() {
    const max = this.model?.max_references ?? 0;
    $("references-count").textContent = `optional · up to ${max}`;
    $("references-add").hidden = this.references.length >= max;
  }

  renderOptions() {
    const box = $("options-list");
    box.replaceChildren();
    const options = Object.entries(this.model.options ?? {});
    $("options-field").hidden = options.length === 0;
    for (const [name, option] of options) {
      const id = `option-${name}`;
      const wrap = document.createElement("div");
      wrap.className = "option";
      const label = document.createElement("label");
      label.className = "label label-small";
      label.htmlFor = id;
      label.textContent = labelOf(name);
      let control;
      if (option.type === "bool") {
        control = document.createElement("input");
        control.type = "checkbox";
        control.checked = option.default === true;
        wrap.classList.add("option-bool");
      } else if (option.values.length) {
        control = document.createElement("select");
        if (option.default === null) control.append(new Option("the model's choice", ""));
        for (const value of option.values) control.append(new Option(String(value), String(value)));
        if (option.default !== null) control.value = String(option.default);
      } else if (option.type === "string") {
        control = document.createElement("input");
        control.type = "text";
      } else {
        control = document.createElement("input");
        control.type = "number";
        control.inputMode = option.type === "int" ? "numeric" : "decimal";
        control.step = option.type === "int" ? "1" : "any";
        if (option.minimum !== null) control.min = String(option.minimum);
        if (option.maximum !== null) control.max = String(option.maximum);
        if (option.default !== null) control.value = String(option.default);
        else control.placeholder = "the model's choice";
      }
      control.id = id;
      control.dataset.option = name;
      const error = document.createElement("p");
      error.className = "field-error";
      error.id = `${id}-error`;
      error.hidden = true;
      const help = document.createElement("p");
      help.className = "help";
      help.id = `${id}-help`;
      help.textContent = [
        option.description,
        option.minimum !== null && option.maximum !== null ? `${option.minimum} to ${option.maximum}` : "",
        option.default !== null ? `default ${option.default}` : "",
      ]
        .filter(Boolean)
        .join(" · ");
      control.setAttribute("aria-describedby", `${help.id} ${error.id}`);
      control.addEventListener("input", () => this.target(name)?.clear());
      wrap.append(label, control, help, error);
      box.append(wrap);
    }
  }

  /** The model's options as sent: each one given (a checkbox always is). */
  optionValues() {
    const values = {};
    for (const control of $("options-list").querySelectorAll("[data-option]")) {
      const option = this.model.options[control.dataset.option];
      if (option.type === "bool") values[control.dataset.option] = control.checked;
      else if (control.value.trim() === "") continue;
      else if (option.type === "int" || option.type === "number") values[control.dataset.option] = Number(control.value);
      else values[control.dataset.option] = control.value;
    }
    return values;
  }

  /** The picker that sits in `host`, or undefined. */
  pickerIn(host) {
    const all = [this.video, this.character, this.performance, ...this.references.map((r) => r.picker)];
    return all.find((p) => p.host === host);
  }

  /** Wait for files still being read (or uploaded). */
  busy() {
    const pickers = [this.video, this.character, this.performance, ...this.references.map((r) => r.picker)];
    return Promise.all(pickers.map((p) => p.busy));
  }

  /** What the page refuses before sending: [{field, message}], in the aimlapi dialect's names. */
  problems() {
    const problems = [];
    if (VIDEO_MODES.has(this.mode) && !picked(this.video)) {
      problems.push({ field: "video_url", message: "Choose or drop a video, or give its URL" });
    }
    const urls = [];
    if (VIDEO_MODES.has(this.mode)) urls.push(this.video.urlProblem("video_url"));
    if (this.mode === "character_performance") {
      urls.push(this.character.urlProblem("character.url"), this.performance.urlProblem("reference.url"));
    }
    if (!$("references-field").hidden) {
      // Numbered as sent: the empty pickers are left out.
      const sent = this.references.map((r) => r.picker).filter((p) => picked(p));
      this.sentReferences = sent;
      urls.push(...sent.map((p, index) => p.urlProblem(`references.${index}.url`)));
    }
    problems.push(...urls.filter(Boolean));
    if (this.mode === "character_performance") {
      if (!picked(this.character)) {
        problems.push({ field: "character.url", message: "Choose an image or a video of the character, or give its URL" });
      }
      if (!picked(this.performance)) {
        problems.push({ field: "reference.url", message: "Choose the video whose performance drives the character" });
      }
    }
    for (const control of $("options-list").querySelectorAll("[data-option]")) {
      const name = control.dataset.option;
      const option = this.model.options[name];
      if (!["int", "number"].includes(option.type) || control.value.trim() === "") continue;
      const value = Number(control.value);
      const whole = option.type === "int" ? Number.isInteger(value) : Number.isFinite(value);
      const inRange =
        (option.minimum === null || value >= option.minimum) && (option.maximum === null || value <= option.maximum);
      if (!whole || !inRange) {
        const range = option.minimum !== null && option.maximum !== null ? ` from ${option.minimum} to ${option.maximum}` : "";
        problems.push({ field: name, message: `Use a ${option.type === "int" ? "whole " : ""}number${range}` });
      }
    }
    return problems;
  }

  /** This mode's fields of the request body (aimlapi's names). */
  body() {
    const body = { ...this.optionValues() };
    if (VIDEO_MODES.has(this.mode)) body.video_url = picked(this.video);
    if (this.mode === "character_performance") {
      const character = this.character.value;
      const isVideo =
        character.video || character.payload.startsWith("data:video/") || VIDEO_PATH.test(character.payload.split("?")[0]);
      body.character = { type: isVideo ? "video" : "image", url: character.payload };
      body.reference = { type: "video", url: picked(this.performance) };
    }
    this.sentReferences = $("references-field").hidden
      ? []
      : this.references.map((r) => r.picker).filter((p) => picked(p));
    if (this.sentReferences.length) {
      body.references = this.sentReferences.map((p) => ({ type: "image", url: picked(p) }));
    }
    return body;
  }

  /** Where a field's error goes, or null when the field is none of these inputs. */
  target(field) {
    const picker = (p) => ({ show: (m) => p.showError(m), clear: () => p.clearError(), focus: () => p.focus() });
    if (field === "video_url" || field === "video") return picker(this.video);
    if (field.startsWith("character")) return picker(this.character);
    if (field === "reference" || field.startsWith("reference.") || field === "performance") return picker(this.performance);
    const reference = /^references\.(\d+)/.exec(field);
    if (reference) {
      const sent = this.sentReferences[Number(reference[1])];
      if (sent) return picker(sent);
    }
    if (field === "references") {
      return {
        show: (m) => showMessage($("references-error"), m),
        clear: () => showMessage($("references-error"), ""),
        focus: () => $("references-add").focus(),
      };
    }
    const control = document.getElementById(`option-${field}`);
    if (control?.dataset.option === field) {
      return {
        show(message) {
          showMessage($(`option-${field}-error`), message);
          control.setAttribute("aria-invalid", "true");
        },
        clear() {
          showMessage($(`option-${field}-error`), "");
          control.removeAttribute("aria-invalid");
        },
        focus: () => control.focus(),
      };
    }
    return null;
  }

  /** Clear every error these inputs show. */
  clearErrors() {
    for (const p of [this.video, this.character, this.performance, ...this.references.map((r) => r.picker)]) {
      p.clearError();
    }
    showMessage($("references-error"), "");
    for (const control of $("options-list").querySelectorAll("[data-option]")) {
      this.target(control.dataset.option)?.clear();
    }
  }
}
