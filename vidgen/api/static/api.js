// The aimlapi routes of this server, as the playground uses them. Every failure becomes an
// ApiError that says which field (if any) is at fault, so the page can show it there.

import { createParser } from "./eventsource-parser.js";

const FINAL_EVENTS = new Set(["completed", "failed", "cancelled"]);
/** The Runway API version whose upload route the page uses (vidgen/api/runway.py). */
const RUNWAY_VERSION = "2024-11-06";

/** An answer other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} message a sentence for people
   * @param {{field: string, message: string}[]} fields per-field problems of a 400
   * @param {number|null} retryAfter seconds, from a 429's Retry-After
   */
  constructor(status, message, fields = [], retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

export class Api {
  /** @param {() => string} getKey the API key to send (read at each call) */
  constructor(getKey) {
    this.getKey = getKey;
  }

  /** Models, ratios, durations and prices. Public: no key needed. */
  async models() {
    const body = await this.request("GET", "/v1/models", { auth: false });
    return body.data;
  }

  /**
   * Submit a generation; answers {id, status}. The same idempotency key with the same body
   * returns the first answer instead of charging twice (for a retry after a lost response).
   */
  create(body, { idempotencyKey } = {}) {
    const headers = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
    return this.request("POST", "/v2/video/generations", { body, headers });
  }

  /**
   * Store a file on this server for a day and answer the URI that names it in a request
   * (`runway://…`). The aimlapi dialect has no upload route of its own; the server resolves
   * such a URI in any dialect, so the page uses the Runway dialect's ephemeral uploads, the
   * way the runwayml SDK does: start one, then post the file as a form.
   */
  async upload(file) {
    const started = await this.request("POST", "/v1/uploads", {
      body: { filename: file.name || "upload", type: "ephemeral" },
      headers: { "X-Runway-Version": RUNWAY_VERSION },
    });
    const form = new FormData();
    for (const [name, value] of Object.entries(started.fields)) form.append(name, value);
    form.append("file", file, file.name || "upload");
    // The answer's URL may carry VIDGEN_PUBLIC_URL's origin; this page posts to its own.
    const target = new URL(started.uploadUrl);
    let response;
    try {
      response = await fetch(new URL(target.pathname, window.location.origin), {
        method: "POST",
        body: form,
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "Can't reach the server. Is vidgen still running?");
    }
    if (!response.ok) {
      const text = await response.text();
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        data = null;
      }
      throw errorFromResponse(response, data);
    }
    return started.runwayUri;
  }

  /** The key's name and balance: {id, name, credits (null: unlimited), …}. */
  account() {
    return this.request("GET", "/v1/account");
  }

  /** Usage over a window, grouped by "day", "model" or "key": {totals, groups: [...]}. */
  usage({ groupBy = "day", start = null, end = null } = {}) {
    return this.request("GET", "/v1/usage", { params: { group_by: groupBy, start, end } });
  }

  /** Every key, with its balance, limits and last use (admin keys only). */
  async adminKeys() {
    const body = await this.request("GET", "/v1/admin/keys");
    return body.data;
  }

  /** A new key: {id, key (the secret, shown once), webhook_secret, …}. */
  createKey(body) {
    return this.request("POST", "/v1/admin/keys", { body });
  }

  /** Add (or, negative, take away) credits with a reason: {id, credits}. */
  creditKey(id, amount, reason) {
    return this.request("POST", `/v1/admin/keys/${encodeURIComponent(id)}/credits`, {
      body: { amount, reason },
    });
  }

  /** Change a key's limits: only the fields given change; null clears one. The key's view. */
  updateKey(id, changes) {
    return this.request("PATCH", `/v1/admin/keys/${encodeURIComponent(id)}`, { body: changes });
  }

  revokeKey(id) {
    return this.request("DELETE", `/v1/admin/keys/${encodeURIComponent(id)}`);
  }

  /** One generation, in the aimlapi poll shape. */
  get(id) {
    return this.request("GET", "/v2/video/generations", { params: { generation_id: id } });
  }

  /**
   * Follow a generation's event stream (GET /v1/generations/{id}/events), calling onEvent with
   * each event's data, until its final event. Resolves true once the final event came, false
   * when there is no stream or it broke: the caller polls then. Read with fetch(), not
   * EventSource, which cannot send the Authorization header.
   */
  async follow(id, onEvent, signal) {
    const key = this.getKey();
    if (!key || /[^\x21-\x7e]/.test(key)) return false;
    let ended = false;
    try {
      const response = await fetch(new URL(`/v1/generations/${encodeURIComponent(id)}/events`, window.location.origin), {
        headers: { Accept: "text/event-stream", Authorization: `Bearer ${key}` },
        credentials: "omit",
        cache: "no-store",
        signal,
      });
      if (!response.ok || !response.body) return false;
      const parser = createParser({
        onEvent: (event) => {
          onEvent(JSON.parse(event.data));
          if (FINAL_EVENTS.has(event.event)) ended = true;
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return ended;
        parser.feed(value);
      }
    } catch {
      return ended; // aborted, dropped, or not the stream it should be
    }
  }

  /** A page of this key's generations, newest first: {data, has_more, next_cursor}. */
  list({ limit = 12, after = null } = {}) {
    return this.request("GET", "/v2/video/generations", { params: { limit, after } });
  }

  /**
   * The prompts of the same page of generations as list() (id → prompt, "" for none). The
   * aimlapi answer carries no prompt; the apiframe dialect's job list, over the same store, does.
   */
  async prompts({ limit = 12, after = null } = {}) {
    const page = await this.request("GET", "/v2/jobs", { params: { limit, cursor: after } });
    return new Map(page.jobs.map((job) => [job.id, job.input?.prompt ?? ""]));
  }

  /** Cancel a queued or running generation; answers the generation as it now is. */
  cancel(id) {
    return this.request("DELETE", "/v2/video/generations", { params: { generation_id: id } });
  }

  async request(method, path, { params = {}, body = undefined, auth = true, headers: extra = {} } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers = { Accept: "application/json", ...extra };
    if (auth) {
      const key = this.getKey();
      if (!key) throw new ApiError(401, "Paste your API key first.");
      // fetch() refuses such a header outright; say why instead of "can't reach the server".
      if (/[^\x21-\x7e]/.test(key)) {
        throw new ApiError(401, "This key has characters no API key contains. Paste it again.");
      }
      headers.Authorization = `Bearer ${key}`;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";

    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "Can't reach the server. Is vidgen still running?");
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (response.ok) return data;
    throw errorFromResponse(response, data);
  }
}

function errorFromResponse(response, data) {
  const fields = Array.isArray(data?.errors)
    ? data.errors
        .filter((e) => e && typeof e.field === "string")
        .map((e) => ({ field: e.field, message: String(e.message ?? "is invalid") }))
    : [];
  const retryHeader = Number(response.headers.get("Retry-After"));
  const retryAfter = Number.isFinite(retryHeader) && retryHeader > 0 ? retryHeader : null;
  // aimlapi's errors say `message`; the Runway dialect's (the upload route) say `error`.
  let message =
    typeof data?.message === "string" ? data.message : typeof data?.error === "string" ? data.error : null;
  switch (response.status) {
    case 401:
      message = message ?? "This key was refused.";
      break;
    case 413:
      message = message ?? "The request is too large for this server. Use smaller files.";
      break;
    case 429:
      message =
        retryAfter !== null
          ? `Too many requests. Try again in ${retryAfter} s.`
          : "Too many requests. Try again in a moment.";
      break;
    default:
      if (response.status >= 500) {
        message = "The server had a problem. Try again in a moment.";
      }
  }
  return new ApiError(response.status, message ?? `The server answered ${response.status}.`, fields);
}
