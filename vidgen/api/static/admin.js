// The Admin view, shown when the key in use is an admin key: every key with its balance and
// limits; create a key (its secret is shown once), add or take away credits, change its limits,
// revoke.

import { ApiError } from "./api.js";
import { $, sentence, showMessage } from "./ui.js";

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(text, className, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = `button button-small ${className}`;
  element.textContent = text;
  element.addEventListener("click", onClick);
  return element;
}

const LIMITS = [
  // [field, label]: PATCH /v1/admin/keys/{id} takes each.
  ["monthly_credit_limit", "Credits per month"],
  ["rate_limit_per_minute", "Creates per minute"],
  ["max_concurrency", "Jobs at once"],
];

export class AdminView {
  /** @param {{api: import("./api.js").Api}} options */
  constructor({ api }) {
    this.api = api;
    this.card = $("admin-card");
    $("admin-create").addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    $("admin-refresh").addEventListener("click", () => this.load());
  }

  /** Shown for an admin key's account, hidden for any other (or none). */
  show(account) {
    const isAdmin = account?.role === "admin";
    this.selfId = isAdmin ? account.id : null;
    this.card.hidden = !isAdmin;
    if (isAdmin) this.load();
  }

  report(error) {
    const text = error instanceof ApiError ? error.message : String(error);
    showMessage($("admin-status"), sentence(text));
  }

  async load() {
    let keys;
    try {
      keys = await this.api.adminKeys();
    } catch (error) {
      this.report(error);
      return;
    }
    const body = $("admin-keys");
    body.replaceChildren(...keys.map((key) => this.row(key)));
  }

  row(key) {
    const tr = document.createElement("tr");
    tr.dataset.keyId = key.id;
    tr.dataset.name = key.name;
    const limits = [
      key.monthly_credit_limit === null ? null : `${key.monthly_credit_limit}/month`,
      key.rate_limit_per_minute === null ? null : `${key.rate_limit_per_minute}/min`,
      key.max_concurrency === null ? null : `${key.max_concurrency} at once`,
    ].filter(Boolean);
    tr.append(
      cell(key.name),
      cell(key.role),
      cell(key.credits === null ? "unlimited" : String(key.credits), "num"),
      cell(limits.join(", ") || "none"),
      cell(key.last_used_at ? key.last_used_at.slice(0, 10) : "never"),
      cell(key.active ? "active" : "revoked"),
    );
    const actions = document.createElement("td");
    actions.className = "admin-actions";
    if (key.active && key.credits !== null) {
      const form = document.createElement("form");
      form.className = "admin-credit";
      form.innerHTML =
        '<input type="number" step="1" required aria-label="Credits to add (negative takes away)" placeholder="±credits">' +
        '<input type="text" required maxlength="500" aria-label="Reason" placeholder="reason">' +
        '<button type="submit" class="button button-small">Credit</button>';
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const [amount, reason] = form.querySelectorAll("input");
        this.credit(key, Number(amount.value), reason.value.trim());
      });
      actions.append(form);
    }
    if (key.active) actions.append(this.limitsForm(key));
    if (key.active && key.id !== this.selfId) {
      // Two steps instead of a confirm() dialog: the second click is the decision.
      const revoke = button("Revoke", "button-danger", () => {
        if (revoke.dataset.armed) {
          this.revoke(key);
        } else {
          revoke.dataset.armed = "1";
          revoke.textContent = `Revoke “${key.name}”?`;
        }
      });
      actions.append(revoke);
    }
    tr.append(actions);
    return tr;
  }

  /** The key's limits in a folded form: an empty box clears a limit (null), as the API does. */
  limitsForm(key) {
    const details = document.createElement("details");
    details.className = "admin-limits";
    const summary = document.createElement("summary");
    summary.textContent = "Limits";
    const form = document.createElement("form");
    const inputs = LIMITS.map(([field, label]) => {
      const input = document.createElement("input");
      input.type = "number";
      input.min = field === "max_concurrency" ? "1" : "0";
      input.step = "1";
      input.placeholder = "none";
      input.setAttribute("aria-label", label);
      input.value = key[field] === null ? "" : String(key[field]);
      const wrap = document.createElement("label");
      wrap.append(`${label} `, input);
      form.append(wrap);
      return [field, input];
    });
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "button button-small";
    save.textContent = "Save limits";
    form.append(save);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const changes = Object.fromEntries(
        inputs.map(([field, input]) => [field, input.value === "" ? null : Number(input.value)]),
      );
      this.limit(key, changes);
    });
    details.append(summary, form);
    return details;
  }

  async limit(key, changes) {
    try {
      await this.api.updateKey(key.id, changes);
      showMessage($("admin-status"), `“${key.name}”: limits saved.`);
    } catch (error) {
      this.report(error);
      return;
    }
    await this.load();
  }

  async create() {
    const name = $("admin-name").value.trim();
    const credits = $("admin-credits").value.trim();
    const body = { name };
    if (credits !== "") body.credits = Number(credits);
    try {
      const made = await this.api.createKey(body);
      $("admin-secret").textContent = made.key;
      $("admin-new").hidden = false;
      showMessage($("admin-status"), `Created “${made.name}”. Copy its key now: it is not shown again.`);
      $("admin-create").reset();
    } catch (error) {
      this.report(error);
      return;
    }
    await this.load();
  }

  async credit(key, amount, reason) {
    try {
      const answer = await this.api.creditKey(key.id, amount, reason);
      showMessage($("admin-status"), `“${key.name}” now has ${answer.credits} credits.`);
    } catch (error) {
      this.report(error);
      return;
    }
    await this.load();
  }

  async revoke(key) {
    try {
      await this.api.revokeKey(key.id);
      showMessage($("admin-status"), `Revoked “${key.name}”.`);
    } catch (error) {
      this.report(error);
      return;
    }
    await this.load();
  }
}
