// The result card: one generation, followed until it ends. Status words, a progress bar, the
// elapsed time, then the video playing inline (muted, looping) with its download link.

import { ApiError } from "./api.js";
import { displayStatus, isActive, shortModel } from "./history.js";
import { parseSize } from "./images.js";
import { $, announce, sentence, showMessage } from "./ui.js";

const POLL_MS = 700;
const STATUS_TEXT = {
  queued: "Queued: waiting for a worker.",
  generating: "Generating…",
  completed: "Done: your video is ready.",
  failed: "Failed.",
  cancelled: "Cancelled. Its credits were refunded.",
};

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

/**
 * When to read a generation again: at each event of its stream while the server streams it,
 * else every POLL_MS (no stream, or it broke).
 */
class Changes {
  constructor(api, id) {
    this.id = id;
    this.controller = new AbortController();
    this.streaming = true;
    this.pending = false; // an event came while nobody waited: the next wait returns at once
    this.waiters = [];
    api
      .follow(id, () => this.wake(), this.controller.signal)
      .then(() => {
        this.streaming = false;
        this.wake();
      });
  }

  wake() {
    if (this.waiters.length === 0) this.pending = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  next() {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    if (!this.streaming) return sleep(POLL_MS);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close() {
    if (this.streaming) this.controller.abort();
  }
}

export class ResultCard {
  /**
   * @param {{api: import("./api.js").Api, history: import("./history.js").HistoryView,
   *   noteFor: (id: string) => {prompt?: string, duration?: number}|undefined,
   *   sentFor: (id: string) => {model?: string, ratio?: string, previewUrl?: string}|undefined,
   *   frameSize: (model: string|undefined, ratio: string) => string|undefined,
   *   onError: (error: Error) => void, onEnded: () => void,
   *   onReuseSeed: (seed: string) => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.current = null; // the id shown
    this.ticket = 0; // bumps whenever the card switches generation, to stop the old poller
    this.lastStatus = null;
    this.seed = null;
    this.elapsedTimer = null;
    this.changes = null; // what tells the watch loop to read the generation again
    $("cancel-current").addEventListener("click", () => this.current && this.cancel(this.current));
    $("reuse-seed").addEventListener("click", () => {
      if (this.seed !== null) this.hooks.onReuseSeed(this.seed);
    });
  }

  /** Show one generation and follow it until it ends (or another one is shown). */
  async watch(id, { focus = false } = {}) {
    const ticket = ++this.ticket;
    const switching = this.current !== id;
    this.current = id;
    this.lastStatus = null;
    this.hooks.history.select(id);
    $("result-empty").hidden = true;
    $("result").hidden = false;
    showMessage($("result-error"), "");
    $("result-id").textContent = id;
    if (switching) this.resetStage(id);
    if (focus) $("result-title").focus();

    // One stream per generation shown: the same one again keeps its stream; another one's is
    // dropped (an open stream holds one of the browser's few connections to the server). A
    // generation's own stream ends by itself after its final event.
    if (this.changes?.id !== id) {
      this.changes?.close();
      this.changes = new Changes(this.hooks.api, id);
    }
    await this.follow(id, ticket, this.changes);
  }

  async follow(id, ticket, changes) {
    let failures = 0;
    for (;;) {
      let generation;
      try {
        generation = await this.hooks.api.get(id);
        failures = 0;
      } catch (error) {
        if (ticket !== this.ticket) return;
        if (error instanceof ApiError && error.status === 404) {
          showMessage($("result-error"), "This generation does not belong to the key in use.");
          return;
        }
        if (error instanceof ApiError && error.status === 401) {
          this.hooks.onError(error);
          return;
        }
        // A dropped connection or a restarting server: keep watching, more slowly.
        failures++;
        showMessage($("result-error"), `${sentence(error.message)} Retrying…`);
        const backoff = Math.min(10_000, POLL_MS * 2 ** failures);
        await sleep(error instanceof ApiError && error.retryAfter ? error.retryAfter * 1000 : backoff);
        continue;
      }
      if (ticket !== this.ticket) return;
      showMessage($("result-error"), "");
      this.render(generation);
      this.hooks.history.upsert(generation);
      if (!isActive(generation)) {
        this.hooks.onEnded();
        return;
      }
      await changes.next();
      if (ticket !== this.ticket) return;
    }
  }

  async cancel(id) {
    try {
      const generation = await this.hooks.api.cancel(id);
      this.hooks.history.upsert(generation);
      if (this.current === id) this.render(generation);
      this.hooks.onEnded();
      announce(isActive(generation) ? "Cancelling: the engine stops at its next check." : "Cancelled.");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.hooks.onError(error);
      else showMessage($("result-error"), sentence(error.message));
    }
  }

  /** On a phone the card is below the form: bring it into view. */
  reveal() {
    const card = $("result-card");
    const box = card.getBoundingClientRect();
    if (box.top > window.innerHeight || box.bottom < 0) {
      const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      card.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "start" });
    }
  }

  resetStage(id) {
    const video = $("video");
    video.pause();
    video.removeAttribute("src");
    video.removeAttribute("poster");
    video.load();
    video.hidden = true;
    const sent = this.hooks.sentFor(id);
    const image = $("stage-image");
    if (sent?.previewUrl) {
      image.src = sent.previewUrl;
      image.hidden = false;
    } else {
      image.removeAttribute("src");
      image.hidden = true;
    }
    $("download").hidden = true;
    $("facts").replaceChildren();
    this.setStageShape(sent?.model, sent?.ratio);
  }

  /** The stage takes the output frame's shape before the video arrives, so nothing jumps. */
  setStageShape(model, ratio) {
    const size = ratio ? this.hooks.frameSize(model, ratio) : undefined;
    const { width, height } = size ? parseSize(size) : { width: 16, height: 9 };
    $("stage").style.setProperty("--ar", String(width / height));
    $("stage").classList.toggle("portrait", height > width);
  }

  render(g) {
    const status = displayStatus(g);
    const meta = g.meta ?? {};
    const sent = this.hooks.sentFor(g.id);
    this.setStageShape(meta.model ?? sent?.model, meta.aspect_ratio ?? sent?.ratio);

    $("status-badge").textContent = status;
    $("status-badge").className = `badge badge-${status}`;
    if (status !== this.lastStatus) {
      // Only on a change: the text is a live region, read aloud each time it changes.
      this.lastStatus = status;
      $("status-text").textContent =
        status === "failed" && g.error ? `Failed: ${sentence(g.error.message)}` : STATUS_TEXT[status];
    }
    const percent = status === "completed" ? 100 : Math.round((meta.progress ?? 0) * 100);
    const bar = $("progress");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-valuetext", status === "queued" ? "Waiting in the queue" : `${percent}%`);
    bar.style.setProperty("--p", `${percent}%`);
    bar.classList.toggle("waiting", status === "queued");
    bar.dataset.status = status;
    this.updateElapsed(g);

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
    } else if (!sent?.previewUrl && meta.thumbnail_url) {
      image.src = meta.thumbnail_url;
      image.hidden = false;
    }
    $("stage").classList.toggle("pending", isActive(g));
    $("stage").classList.toggle("ended", status === "failed" || status === "cancelled");

    showMessage(
      $("result-error"),
      status === "failed" && g.error ? `${g.error.name}: ${sentence(g.error.message)}` : "",
    );
    this.renderFacts(g);
    $("cancel-current").hidden = !isActive(g);
    this.seed = meta.seed === undefined ? null : String(meta.seed);
    $("reuse-seed").hidden = this.seed === null;
  }

  renderFacts(g) {
    const meta = g.meta ?? {};
    const note = this.hooks.noteFor(g.id);
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

  updateElapsed(g) {
    window.clearInterval(this.elapsedTimer);
    const started = Date.parse(g.meta?.created_at);
    const element = $("elapsed");
    if (Number.isNaN(started)) {
      element.textContent = "";
      return;
    }
    if (!isActive(g)) {
      const ended = Date.parse(g.meta?.completed_at);
      element.textContent = Number.isNaN(ended)
        ? ""
        : `took ${Math.max(0, (ended - started) / 1000).toFixed(1)} s`;
      return;
    }
    const tick = () => {
      const seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
      element.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    };
    tick();
    this.elapsedTimer = window.setInterval(tick, 500);
  }
}
