// The API key: checked by loading its history, saved in this browser once accepted, shown or
// hidden, forgotten on request; and the balance it has left, under the submit button.

import { forgetAll, savedKey, saveKey } from "./storage.js";
import { $, creditsText, showMessage } from "./ui.js";

export class KeyField {
  /**
   * @param {{input: HTMLInputElement, api: import("./api.js").Api,
   *   errors: import("./errors.js").FieldErrors, history: import("./history.js").HistoryView,
   *   account: import("./account.js").AccountView}} parts
   */
  constructor({ input, api, errors, history, account }) {
    this.input = input;
    this.api = api;
    this.errors = errors;
    this.history = history;
    this.account = account;
    this.checkedKey = null; // the key whose history is shown
  }

  /** Whether the key in the field is the one whose history is shown. */
  get checked() {
    return this.input.value.trim() === this.checkedKey;
  }

  async use({ quiet = false } = {}) {
    const key = this.input.value.trim();
    this.errors.showKey("");
    if (!key) {
      this.errors.showKey("Paste a key first.");
      this.input.focus();
      return;
    }
    this.checkedKey = key;
    $("key-status").textContent = quiet ? "" : "Checking…";
    if (this.checkedKey !== savedKey()) this.history.reset("Loading…");
    const ok = await this.history.load();
    if (this.checkedKey !== key) return; // another key was entered meanwhile
    if (ok) {
      saveKey(key);
      $("key-forget").hidden = false;
      showMessage($("key-status"), "✓ Key accepted and saved in this browser.");
      this.refreshBalance();
      this.account.load();
    } else {
      showMessage($("balance"), "");
      this.account.reset();
      showMessage($("key-status"), ""); // the reason is shown at the key, or by the history
    }
  }

  /** The key's balance, under the submit button (refunds and charges move it). */
  async refreshBalance() {
    if (!this.input.value.trim()) return;
    try {
      const account = await this.api.account();
      const credits = account.credits === null ? "unlimited credits" : `${creditsText(account.credits)} left`;
      showMessage($("balance"), `Key “${account.name}”: ${credits}.`);
    } catch {
      showMessage($("balance"), "");
    }
  }

  forget() {
    forgetAll();
    this.input.value = "";
    this.checkedKey = null;
    this.errors.showKey("");
    $("key-forget").hidden = true;
    showMessage($("key-status"), "Forgotten: this browser no longer keeps a key.");
    showMessage($("balance"), "");
    this.history.reset();
    this.account.reset();
    this.input.focus();
  }

  /** Listen to the key's controls, and use the key this browser saved, if any. */
  bind() {
    const input = this.input;
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.use();
    });
    input.addEventListener("change", () => {
      if (input.value.trim() && input.value.trim() !== this.checkedKey) this.use();
    });
    input.addEventListener("input", () => this.errors.showKey(""));
    $("key-reveal").addEventListener("click", () => {
      const reveal = input.type === "password";
      input.type = reveal ? "text" : "password";
      $("key-reveal").textContent = reveal ? "Hide" : "Show";
      $("key-reveal").setAttribute("aria-pressed", String(reveal));
    });
    $("key-forget").addEventListener("click", () => this.forget());
    const saved = savedKey();
    if (saved) {
      input.value = saved;
      $("key-forget").hidden = false;
      this.use({ quiet: true });
    }
  }
}
