// The key's generations, newest first: thumbnails, status, cancel; click one to view it.
// Entries are updated in place (never rebuilt), so focus and scroll stay where they are while
// the list refreshes itself.

const PAGE_SIZE = 12;
const REFRESH_MS = 2000;

/** The status a person would use: the API folds "cancelled" into "error". */
export function displayStatus(generation) {
  if (generation.status === "error") {
    return generation.error?.name === "Cancelled" ? "cancelled" : "failed";
  }
  return generation.status;
}

export function isActive(generation) {
  return generation.status === "queued" || generation.status === "generating";
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function timeAgo(iso) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - Date.now()) / 1000);
  if (seconds > -45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes > -60) return relative.format(minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (hours > -24) return relative.format(hours, "hour");
  return new Date(then).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

export function shortModel(model) {
  return String(model ?? "").replace(/^runway\//, "");
}

export class HistoryView {
  /**
   * @param {{list: HTMLElement, status: HTMLElement, more: HTMLButtonElement,
   *   refresh: HTMLButtonElement}} elements
   * @param {{api: import("./api.js").Api, onOpen: (id: string) => void,
   *   onCancel: (id: string) => Promise<void>, onError: (error: Error) => void,
   *   noteFor: (id: string) => {prompt?: string, duration?: number}|undefined}} hooks
   */
  constructor(elements, hooks) {
    Object.assign(this, elements);
    this.hooks = hooks;
    this.items = new Map(); // id → generation, newest first
    this.prompts = new Map(); // id → its prompt as the server has it ("" for none); never changes
    this.nextCursor = null;
    this.selected = null;
    this.timer = null;
    this.generationOfLoad = 0;
    this.more.addEventListener("click", () => this.loadMore());
    this.refresh.addEventListener("click", () => this.load({ announce: true }));
  }

  /** Forget everything shown (e.g. the key was forgotten). */
  reset(message = "Use your API key to see its generations.") {
    this.generationOfLoad++;
    clearTimeout(this.timer);
    this.timer = null;
    this.items.clear();
    this.prompts.clear();
    this.nextCursor = null;
    this.list.replaceChildren();
    this.more.hidden = true;
    this.status.textContent = message;
  }

  /** Fetch the newest page and merge it in; returns false when the call failed. */
  async load({ announce = false } = {}) {
    const ticket = ++this.generationOfLoad;
    clearTimeout(this.timer);
    this.timer = null;
    if (announce) this.status.textContent = "Refreshing…";
    let page;
    try {
      page = await this.hooks.api.list({ limit: PAGE_SIZE });
    } catch (error) {
      if (ticket !== this.generationOfLoad) return false;
      this.status.textContent = `The history could not be loaded: ${error.message}`;
      this.hooks.onError(error);
      return false;
    }
    if (ticket !== this.generationOfLoad) return true;
    await this.learnPrompts(page.data, null);
    if (ticket !== this.generationOfLoad) return true;
    const fresh = new Map(page.data.map((g) => [g.id, g]));
    // Keep older pages already shown; the first page replaces what it covers.
    const older = [...this.items.values()].filter((g) => !fresh.has(g.id));
    const oldest = page.data.at(-1);
    const kept = oldest ? older.filter((g) => g.meta?.created_at < oldest.meta?.created_at) : [];
    this.items = new Map([...fresh, ...kept.map((g) => [g.id, g])]);
    if (this.nextCursor === null || kept.length === 0) {
      this.nextCursor = page.has_more ? page.next_cursor : null;
    }
    this.render();
    return true;
  }

  async loadMore() {
    if (!this.nextCursor) return;
    this.more.disabled = true;
    try {
      const after = this.nextCursor;
      const page = await this.hooks.api.list({ limit: PAGE_SIZE, after });
      await this.learnPrompts(page.data, after);
      for (const g of page.data) this.items.set(g.id, g);
      this.nextCursor = page.has_more ? page.next_cursor : null;
      this.render();
    } catch (error) {
      this.status.textContent = `Older generations could not be loaded: ${error.message}`;
      this.hooks.onError(error);
    } finally {
      this.more.disabled = false;
    }
  }

  /**
   * Fetch the prompts of a page once, for generations this browser did not submit (made with
   * the API, or elsewhere). A failure leaves them titled by their model.
   */
  async learnPrompts(generations, after) {
    const unknown = generations.filter(
      (g) => !this.prompts.has(g.id) && this.hooks.noteFor(g.id)?.prompt === undefined,
    );
    if (unknown.length === 0) return;
    try {
      // A few more than the page: a generation made meanwhile shifts the page by one.
      const found = await this.hooks.api.prompts({ limit: generations.length + 4, after });
      for (const [id, prompt] of found) this.prompts.set(id, prompt);
    } catch {
      // Titles by model instead; the history itself loaded.
    }
  }

  /** Put a generation we learnt about elsewhere (a submit, a poll) into the list. */
  upsert(generation) {
    if (this.items.has(generation.id)) {
      this.items.set(generation.id, { ...this.items.get(generation.id), ...generation });
    } else {
      this.items = new Map([[generation.id, generation], ...this.items]);
    }
    this.render();
  }

  select(id) {
    this.selected = id;
    for (const li of this.list.children) {
      const open = li.querySelector(".entry-open");
      if (li.dataset.id === id) open.setAttribute("aria-current", "true");
      else open.removeAttribute("aria-current");
    }
  }

  render() {
    const count = this.items.size;
    // An honest count: all of them when there is no older page, else how many are shown.
    this.status.textContent =
      count === 0
        ? "No generations yet with this key."
        : this.nextCursor
          ? `${count} shown · more`
          : `${count} generation${count === 1 ? "" : "s"} with this key.`;
    const existing = new Map([...this.list.children].map((li) => [li.dataset.id, li]));
    let index = 0;
    for (const generation of this.items.values()) {
      const li = existing.get(generation.id) ?? this.createEntry(generation.id);
      existing.delete(generation.id);
      this.updateEntry(li, generation);
      if (this.list.children[index] !== li) this.list.insertBefore(li, this.list.children[index] ?? null);
      index++;
    }
    for (const li of existing.values()) li.remove();
    this.more.hidden = !this.nextCursor;
    this.select(this.selected);
    // While anything is still running, refresh the newest page now and then (one timer at a
    // time: frequent upserts from the result card must not keep pushing it back).
    if (!this.timer && [...this.items.values()].some(isActive)) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.load();
      }, REFRESH_MS);
    }
  }

  createEntry(id) {
    const li = document.createElement("li");
    li.className = "entry";
    li.dataset.id = id;
    li.innerHTML = `
      <button type="button" class="entry-open">
        <span class="entry-thumb"><img alt="" decoding="async"><span class="entry-bar"></span></span>
        <span class="entry-body">
          <span class="entry-title"></span>
          <span class="entry-meta"></span>
        </span>
        <span class="badge"></span>
      </button>
      <button type="button" class="button button-danger button-small entry-cancel">Cancel</button>`;
    li.querySelector(".entry-open").addEventListener("click", () => this.hooks.onOpen(id));
    const cancel = li.querySelector(".entry-cancel");
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      cancel.textContent = "Cancelling…";
      try {
        await this.hooks.onCancel(id);
      } finally {
        cancel.disabled = false;
        cancel.textContent = "Cancel";
        // The button hides once the job has ended; keep the keyboard user in the entry.
        if (cancel.hidden) li.querySelector(".entry-open").focus();
      }
    });
    return li;
  }

  updateEntry(li, generation) {
    const status = displayStatus(generation);
    const meta = generation.meta ?? {};
    const note = this.hooks.noteFor(generation.id) ?? {};
    // Titled by its prompt; by its model when it has none (or it is not known yet).
    const prompt = note.prompt || this.prompts.get(generation.id);
    const duration = generation.duration ?? note.duration;
    const title = li.querySelector(".entry-title");
    const text = prompt ? prompt : shortModel(meta.model) || "Generation";
    if (title.textContent !== text) title.textContent = text;
    title.classList.toggle("muted", !prompt);
    const parts = [
      prompt ? shortModel(meta.model) : null,
      meta.aspect_ratio,
      duration ? `${Math.round(duration)} s` : null,
      timeAgo(meta.created_at),
    ].filter(Boolean);
    li.querySelector(".entry-meta").textContent = parts.join(" · ");
    li.querySelector(".entry-meta").title = meta.created_at
      ? new Date(meta.created_at).toLocaleString()
      : "";

    const badge = li.querySelector(".badge");
    const progress = Math.round((meta.progress ?? 0) * 100);
    badge.textContent = status === "generating" ? `generating ${progress}%` : status;
    badge.className = `badge badge-${status}`;

    const thumb = li.querySelector(".entry-thumb");
    const img = thumb.querySelector("img");
    const url = meta.thumbnail_url;
    if (url && img.getAttribute("src") !== url) img.src = url;
    img.hidden = !url;
    thumb.classList.toggle("empty", !url);
    thumb.classList.toggle("active", isActive(generation));
    thumb.style.setProperty("--p", `${progress}%`);

    const open = li.querySelector(".entry-open");
    open.setAttribute(
      "aria-label",
      `View ${text}: ${badge.textContent}${parts.length ? `, ${parts.join(", ")}` : ""}`,
    );
    const cancel = li.querySelector(".entry-cancel");
    cancel.hidden = !isActive(generation);
    cancel.setAttribute("aria-label", `Cancel ${text}`);
  }
}
