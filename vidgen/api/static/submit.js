// Generate: check the form in the page, build the aimlapi request body from it, send it (with
// an Idempotency-Key kept across retries of a create whose answer was lost), and remember what
// was sent, since the API does not give the prompt back.

import { ApiError } from "./api.js";
import { formatBytes } from "./images.js";
import { savedNote, saveNote } from "./storage.js";
import { $ } from "./ui.js";

const SEED_MAX = 4_294_967_295;

/** 128 random bits as hex (crypto.randomUUID needs a secure context; this page may not be). */
function randomId() {
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

function setSubmitting(on) {
  const button = $("submit");
  button.setAttribute("aria-busy", String(on));
  button.classList.toggle("busy", on);
  $("submit-label").textContent = on ? "Sending…" : "Generate";
}

export class Submitter {
  /**
   * @param {{api: import("./api.js").Api, keyInput: HTMLInputElement,
   *   form: import("./form.js").CreateForm, errors: import("./errors.js").FieldErrors,
   *   firstPicker: import("./picker.js").ImagePicker, tailPicker: import("./picker.js").ImagePicker,
   *   kindInputs: import("./kinds.js").KindInputs, maxBodyBytes: number,
   *   onCreated: (created: object, sent: object) => void}} parts
   *   onCreated: after a create was accepted and what it sent is recorded
   */
  constructor({ api, keyInput, form, errors, firstPicker, tailPicker, kindInputs, maxBodyBytes, onCreated }) {
    Object.assign(this, { api, keyInput, form, errors, firstPicker, tailPicker, kindInputs, maxBodyBytes, onCreated });
    this.submitting = false;
    this.pending = null; // {body, key}: the Idempotency-Key of a create whose answer never came
    this.sent = new Map(); // id → what this page sent: {model, prompt, duration, ratio, previewUrl}
  }

  /** What this page sent for a generation, if it did. */
  sentFor(id) {
    return this.sent.get(id);
  }

  /** What this browser sent for a generation: {prompt, duration}. */
  noteFor(id) {
    const local = this.sent.get(id);
    return local ? { prompt: local.prompt, duration: local.duration } : savedNote(id);
  }

  /** The form's problems the page can see before sending, by field. */
  problems(model, framed) {
    const problems = [];
    if (!this.keyInput.value.trim()) problems.push({ field: "key", message: "Paste your API key first" });
    // The model's own rule (`requires_image`), which the server applies in every dialect.
    if (framed && model.requires_image && !this.firstPicker.payload) {
      problems.push({ field: "image_url", message: "Choose, drop or paste an image, or give its URL" });
    }
    if (framed) {
      const urlProblems = [this.firstPicker.urlProblem("image_url"), this.tailPicker.urlProblem("tail_image_url")];
      problems.push(...urlProblems.filter(Boolean));
    }
    problems.push(...this.kindInputs.problems());
    const prompt = $("prompt").value;
    if (prompt.length > model.max_prompt_chars) {
      const over = prompt.length - model.max_prompt_chars;
      problems.push({ field: "prompt", message: `Shorten the prompt by ${over} character${over === 1 ? "" : "s"} (at most ${model.max_prompt_chars})` });
    }
    const seedText = $("seed").value.trim();
    if (seedText && !(/^\d+$/.test(seedText) && Number(seedText) <= SEED_MAX)) {
      problems.push({ field: "seed", message: `Use a whole number from 0 to ${SEED_MAX}, or leave it blank` });
    }
    return problems;
  }

  /** The aimlapi create body the form describes. */
  body(model, framed, prompt) {
    const form = this.form;
    const seedText = $("seed").value.trim();
    const tail = model.accepts_last_image ? this.tailPicker.payload : null;
    return {
      model: model.id,
      ...(framed
        ? {
            image_url: this.firstPicker.payload ?? undefined,
            tail_image_url: tail ?? undefined,
            aspect_ratio: form.ratio,
            duration: form.duration,
          }
        : {}),
      ...this.kindInputs.body(),
      prompt: prompt.trim() ? prompt : undefined,
      seed: seedText ? Number(seedText) : undefined,
    };
  }

  async submit(event) {
    event.preventDefault();
    const form = this.form;
    if (this.submitting || !form.model) return;
    this.errors.clear();
    const model = form.model;
    await Promise.all([this.firstPicker.busy, this.tailPicker.busy, this.kindInputs.busy()]);
    const framed = this.kindInputs.framed;

    const problems = this.problems(model, framed);
    if (problems.length) {
      this.errors.show(problems, "");
      return;
    }

    const prompt = $("prompt").value;
    const body = this.body(model, framed, prompt);
    const size = new Blob([JSON.stringify(body)]).size;
    if (size > this.maxBodyBytes) {
      const field = framed ? "image_url" : this.kindInputs.mode === "character_performance" ? "character.url" : "video_url";
      this.errors.show(
        [{ field, message: `Together the files make a ${formatBytes(size)} request; this server takes at most ${formatBytes(this.maxBodyBytes)}. Use smaller files` }],
        "",
      );
      return;
    }

    // A create whose answer was lost (network) is retried with the same Idempotency-Key, so
    // pressing Generate again cannot make, or charge for, the same video twice.
    const bodyText = JSON.stringify(body);
    if (this.pending?.body !== bodyText) this.pending = { body: bodyText, key: randomId() };
    this.submitting = true;
    setSubmitting(true);
    let created;
    try {
      created = await this.api.create(body, { idempotencyKey: this.pending.key });
      this.pending = null;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 0)) this.pending = null;
      this.errors.showApi(error);
      return;
    } finally {
      this.submitting = false;
      setSubmitting(false);
    }
    const sent = {
      model: model.id,
      prompt: prompt.trim(),
      duration: framed ? form.duration : undefined,
      ratio: framed ? form.ratio : undefined,
      previewUrl: framed ? this.firstPicker.value?.previewUrl : undefined,
    };
    saveNote(created.id, { prompt: sent.prompt, duration: sent.duration });
    this.sent.set(created.id, sent);
    // The result card shows this preview while the job runs, so the picker must not free it.
    if (framed && this.firstPicker.value) this.firstPicker.value.kept = true;
    this.onCreated(created, sent);
  }
}
