// Where a problem with the create form is shown: beside its field (the key, the model, a
// picker, a chip group, the prompt, the seed, or an input of the model's kind), and what has no
// field by the submit button; an ApiError goes to the key, the fields or the button by its status.

import { ApiError } from "./api.js";
import { $, announce, sentence, showMessage } from "./ui.js";

const FIELDS = ["key", "model", "image_url", "tail_image_url", "aspect_ratio", "duration", "prompt", "seed"];

export class FieldErrors {
  /**
   * @param {{keyInput: HTMLInputElement, firstPicker: import("./picker.js").ImagePicker,
   *   tailPicker: import("./picker.js").ImagePicker, kindInputs: import("./kinds.js").KindInputs}} parts
   */
  constructor({ keyInput, firstPicker, tailPicker, kindInputs }) {
    this.keyInput = keyInput;
    this.firstPicker = firstPicker;
    this.tailPicker = tailPicker;
    this.kindInputs = kindInputs;
  }

  /** Every place a field's error can appear: its message element and what to focus. */
  target(field) {
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
        return simple("key-error", () => this.keyInput);
      case "model":
        return simple("model-error", () => document.querySelector('input[name="model"]:checked'));
      case "image_url":
        return picker(this.firstPicker);
      case "tail_image_url":
      case "last_image_url":
        return picker(this.tailPicker, () => ($("tail-details").open = true));
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
        return this.kindInputs.target(field);
    }
  }

  clear() {
    for (const field of FIELDS) this.target(field).clear();
    this.kindInputs.clearErrors();
    showMessage($("submit-error"), "");
  }

  /** Show each problem by its field; what has no field goes by the submit button. */
  show(problems, summary) {
    const loose = [];
    let first = null;
    for (const { field, message } of problems) {
      const target = this.target(field);
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
  showApi(error) {
    if (!(error instanceof ApiError)) {
      console.error(error);
      showMessage($("submit-error"), "Something went wrong in the page. Reload and try again.");
      return;
    }
    if (error.status === 401) {
      this.showKey(error.message);
      this.keyInput.focus();
      return;
    }
    if (error.status === 400 && error.fields.length) {
      this.show(error.fields, "The server could not accept this; see the marked fields.");
      return;
    }
    if (error.status === 413) {
      const target = this.target(this.kindInputs.framed ? "image_url" : "video_url");
      target.show(error.message);
      target.focus();
      return;
    }
    showMessage($("submit-error"), sentence(error.message));
    announce(sentence(error.message));
  }

  /** The key's own error ("" clears it); while one shows, the key's status says nothing. */
  showKey(message) {
    const target = this.target("key");
    if (message) target.show(sentence(message));
    else target.clear();
    if (message) showMessage($("key-status"), "");
  }
}
