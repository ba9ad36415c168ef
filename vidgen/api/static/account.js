// The Account view: the key's balance and limits, and its usage over the last 30 days, per day
// and per model (GET /v1/account and GET /v1/usage).

import { barChart, legend } from "./chart.js";
import { $, showMessage } from "./ui.js";

const DAYS = 30;

function dayLabels(end) {
  const labels = [];
  for (let back = DAYS - 1; back >= 0; back -= 1) {
    const day = new Date(end.getTime() - back * 86_400_000);
    labels.push(day.toISOString().slice(0, 10));
  }
  return labels;
}

function fact(list, term, value) {
  const item = document.createElement("div");
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  item.append(dt, dd);
  list.append(item);
}

export class AccountView {
  /** @param {{api: import("./api.js").Api, onAdmin: (account: object|null) => void}} options */
  constructor({ api, onAdmin }) {
    this.api = api;
    this.onAdmin = onAdmin;
    this.card = $("account-card");
  }

  reset() {
    this.card.hidden = true;
    this.onAdmin(null);
  }

  async load() {
    let account;
    let byDay;
    let byModel;
    try {
      const end = new Date();
      const start = new Date(end.getTime() - DAYS * 86_400_000);
      const range = { start: start.toISOString().slice(0, 10), end: null };
      [account, byDay, byModel] = await Promise.all([
        this.api.account(),
        this.api.usage({ groupBy: "day", ...range }),
        this.api.usage({ groupBy: "model", ...range }),
      ]);
    } catch {
      this.reset();
      return;
    }
    this.card.hidden = false;
    this.render(account, byDay, byModel);
    this.onAdmin(account);
  }

  render(account, byDay, byModel) {
    const facts = $("account-facts");
    facts.replaceChildren();
    fact(facts, "Key", `${account.name}${account.role === "admin" ? " (admin)" : ""}`);
    fact(facts, "Balance", account.credits === null ? "unlimited" : `${account.credits} credits`);
    fact(facts, "Monthly limit", account.monthly_credit_limit === null ? "none" : `${account.monthly_credit_limit} credits`);
    fact(facts, "Rate limit", account.rate_limit_per_minute === null ? "the server's" : `${account.rate_limit_per_minute} per minute`);
    fact(facts, "Jobs at once", account.max_concurrency === null ? "any" : String(account.max_concurrency));
    const totals = byDay.totals;
    // An admin key's usage is every key's (GET /v1/usage answers it so).
    const whose = byDay.key_id === null ? "All keys, last" : "Last";
    showMessage(
      $("account-summary"),
      `${whose} ${DAYS} days: ${totals.jobs} jobs, ${totals.credits_net} credits, ` +
        `${totals.seconds_of_video} s of video, ${totals.failed} failed.`,
    );
    const days = new Map(byDay.groups.map((g) => [g.group, g]));
    const dayRows = dayLabels(new Date()).map((label) => ({
      label: label.slice(5),
      credits: Math.max(0, days.get(label)?.credits_net ?? 0),
      jobs: days.get(label)?.jobs ?? 0,
    }));
    const modelRows = byModel.groups.map((g) => ({
      label: g.group,
      credits: Math.max(0, g.credits_net),
      jobs: g.jobs,
    }));
    $("usage-by-day").replaceChildren(barChart(dayRows, "Credits and jobs per day"));
    $("usage-by-model").replaceChildren(
      barChart(modelRows, "Credits and jobs per model", { width: 320 }),
    );
    $("usage-legend").replaceChildren(legend());
  }
}
