// The create form's choices: the model (a card each, from /v1/models), its aspect ratios and
// durations (chips with their size and price), the prompt's length counter and the seed. Which
// of them show follows the model's kind (kinds.js decides the mode, applyMode shows it).

import { nearestRatio, parseSize } from "./images.js";
import { $, announce, creditsText, sentence, showMessage } from "./ui.js";

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

export class CreateForm {
  /**
   * @param {{api: import("./api.js").Api, errors: import("./errors.js").FieldErrors,
   *   firstPicker: import("./picker.js").ImagePicker, tailPicker: import("./picker.js").ImagePicker,
   *   kindInputs: import("./kinds.js").KindInputs}} parts
   */
  constructor({ api, errors, firstPicker, tailPicker, kindInputs }) {
    this.api = api;
    this.errors = errors;
    this.firstPicker = firstPicker;
    this.tailPicker = tailPicker;
    this.kindInputs = kindInputs;
    this.models = [];
    this.model = null;
    this.ratio = null;
    this.ratioPickedByHand = false;
    this.duration = null;
  }

  async load() {
    try {
      this.models = await this.api.models();
    } catch (error) {
      const box = $("model-options");
      box.replaceChildren();
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "button";
      retry.textContent = "Try again";
      retry.addEventListener("click", () => this.load());
      showMessage($("model-error"), `The models could not be loaded. ${sentence(error.message)}`);
      box.append(retry);
      return;
    }
    showMessage($("model-error"), "");
    this.model = this.models[0];
    this.duration = this.model.default_duration;
    this.renderModels();
    this.selectModel(this.model.id);
  }

  /** The frame size of `ratio` for a model (by id or alias), else any model's. */
  frameSize(modelId, ratio) {
    const model = this.models.find((m) => m.id === modelId || m.aliases.includes(modelId));
    const sizes = model ? [model] : this.models;
    return sizes.map((m) => m.aspect_ratios[ratio]).find((size) => size !== undefined);
  }

  renderModels() {
    const box = $("model-options");
    box.replaceChildren();
    this.models.forEach((model, index) => {
      const input = radio("model", model.id, `model-${index}`, model.id === this.model.id);
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
      input.addEventListener("change", () => this.selectModel(model.id));
      const wrap = document.createElement("div");
      wrap.className = "model-option";
      wrap.append(input, label);
      box.append(wrap);
    });
  }

  selectModel(id) {
    this.model = this.models.find((m) => m.id === id) ?? this.models[0];
    const model = this.model;
    if (!(this.ratio in model.aspect_ratios)) {
      this.ratio = null;
      this.ratioPickedByHand = false;
    }
    if (!model.durations.includes(this.duration)) this.duration = model.default_duration;
    this.renderRatios();
    this.renderDurations();
    this.matchRatioToImage();
    document.querySelector("#first-image-label .required").hidden = !model.requires_image;
    this.kindInputs.setModel(model); // calls applyMode
    this.updatePrompt();
  }

  /** Show the inputs of the chosen mode: frames, ratio and duration are a prompt-and-images
   * form's; an input video's length and shape decide the others'. */
  applyMode() {
    const model = this.model;
    const framed = this.kindInputs.framed;
    $("first-image").hidden = !framed;
    $("ratio-field").hidden = !framed;
    $("duration-field").hidden = !framed;
    const tailOk = model.accepts_last_image;
    $("tail-details").hidden = !framed || !tailOk;
    showMessage($("tail-unsupported"), !framed || tailOk ? "" : `${model.title} does not take a last frame.`);
    this.updatePrice();
  }

  renderRatios() {
    const box = $("ratio-options");
    box.replaceChildren();
    const model = this.model;
    this.ratio ??= model.default_aspect_ratio;
    for (const [ratio, size] of Object.entries(model.aspect_ratios)) {
      const { width, height } = parseSize(size);
      const input = radio("ratio", ratio, `ratio-${ratio.replace(":", "-")}`, ratio === this.ratio);
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
        this.ratioPickedByHand = true;
        this.setRatio(ratio);
      });
      box.append(input, label);
    }
    this.setRatio(this.ratio);
  }

  setRatio(ratio) {
    this.ratio = ratio;
    const input = document.querySelector(`input[name="ratio"][value="${ratio}"]`);
    if (input) input.checked = true;
    this.errors.target("aspect_ratio").clear();
    const { width, height } = parseSize(this.model.aspect_ratios[ratio]);
    const frame = { ratio, width, height };
    this.firstPicker.setFrame(frame);
    this.tailPicker.setFrame(frame);
    this.updateRatioHint();
  }

  updateRatioHint() {
    const size = this.firstPicker.size;
    let hint = "The image fills the frame; what sticks out is cut equally from both sides.";
    if (size) {
      const best = nearestRatio(this.model.aspect_ratios, size.width, size.height);
      hint =
        best === this.ratio
          ? `${this.ratio} is the closest to your ${size.width}×${size.height} image. The bright area of the preview is what the video keeps.`
          : `Your image is ${size.width}×${size.height}; the bright area of the preview is what a ${this.ratio} video keeps.`;
    }
    $("ratio-hint").textContent = hint;
  }

  /** Until the user picks a ratio, follow the first image's shape (the server's own rule). */
  matchRatioToImage() {
    const size = this.firstPicker.size;
    if (size && !this.ratioPickedByHand) {
      const best = nearestRatio(this.model.aspect_ratios, size.width, size.height);
      if (best) {
        this.setRatio(best);
        return;
      }
    }
    this.updateRatioHint();
  }

  renderDurations() {
    const box = $("duration-options");
    box.replaceChildren();
    for (const seconds of this.model.durations) {
      const input = radio("duration", String(seconds), `duration-${seconds}`, seconds === this.duration);
      const label = document.createElement("label");
      label.htmlFor = input.id;
      label.className = "chip";
      label.innerHTML = `<span class="chip-main"></span><span class="chip-sub"></span>`;
      label.querySelector(".chip-main").textContent = `${seconds} s`;
      label.querySelector(".chip-sub").textContent = creditsText(this.model.credits[String(seconds)]);
      input.addEventListener("change", () => {
        this.duration = seconds;
        this.errors.target("duration").clear();
        this.updatePrice();
      });
      box.append(input, label);
    }
  }

  updatePrice() {
    const model = this.model;
    if (model && !this.kindInputs.framed) {
      // Charged by the output's length, which the input video decides.
      const longest = Math.max(...model.durations);
      const rate = Math.round((model.credits[String(longest)] / longest) * 10) / 10;
      $("submit-price").textContent = `${rate} credits/s`;
      return;
    }
    const credits = model?.credits[String(this.duration)];
    $("submit-price").textContent = credits === undefined ? "" : creditsText(credits);
  }

  updatePrompt() {
    const max = this.model?.max_prompt_chars ?? 1000;
    const length = $("prompt").value.length;
    const counter = $("prompt-count");
    const over = length - max;
    counter.textContent = over > 0 ? `${length} / ${max} · ${over} too many` : `${length} / ${max}`;
    counter.classList.toggle("near", length > max * 0.9 && over <= 0);
    counter.classList.toggle("over", over > 0);
    const wasOver = $("prompt").getAttribute("aria-invalid") === "true";
    if (over > 0 && !wasOver) {
      this.errors.target("prompt").show(`The prompt is ${over} character${over === 1 ? "" : "s"} over the ${max}-character limit.`);
    } else if (over > 0) {
      showMessage($("prompt-error"), `The prompt is ${over} character${over === 1 ? "" : "s"} over the ${max}-character limit.`);
    } else if (wasOver) {
      this.errors.target("prompt").clear();
    }
  }

  /** Listen to the prompt and the seed's buttons. */
  bindPromptAndSeed() {
    $("prompt").addEventListener("input", () => this.updatePrompt());
    const seed = $("seed");
    const syncSeed = () => {
      $("seed-clear").hidden = !seed.value;
      this.errors.target("seed").clear();
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

  /** Put a finished video's seed in the form, for the next one. */
  reuseSeed(seed) {
    $("seed").value = seed;
    $("seed-clear").hidden = false;
    this.errors.target("seed").clear();
    $("seed").focus();
    announce(`Seed ${seed} will be used for the next video.`);
  }
}
