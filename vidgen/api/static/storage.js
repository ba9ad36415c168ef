// What the playground keeps in this browser's local storage: the API key, and for each
// generation submitted from here its prompt and duration (the API does not return the prompt).
// Storage may be unavailable (private windows, disabled storage): the page then still works,
// it just forgets on reload.

const KEY = "vidgen.playground.key";
const NOTES = "vidgen.playground.notes";
/** How many generations' notes are kept; the oldest go first. */
const MAX_NOTES = 200;

function read(name) {
  try {
    return window.localStorage.getItem(name);
  } catch {
    return null;
  }
}

function write(name, value) {
  try {
    if (value === null) window.localStorage.removeItem(name);
    else window.localStorage.setItem(name, value);
  } catch {
    /* see above */
  }
}

export function savedKey() {
  return read(KEY);
}

export function saveKey(key) {
  write(KEY, key);
}

/** Forget the key and every note. */
export function forgetAll() {
  write(KEY, null);
  write(NOTES, null);
}

function notes() {
  try {
    return JSON.parse(read(NOTES) ?? "{}") ?? {};
  } catch {
    return {};
  }
}

/** {prompt, duration} of a generation submitted from this browser, or undefined. */
export function savedNote(id) {
  return notes()[id];
}

export function saveNote(id, note) {
  const all = notes();
  all[id] = note;
  const ids = Object.keys(all);
  for (const old of ids.slice(0, Math.max(0, ids.length - MAX_NOTES))) delete all[old];
  write(NOTES, JSON.stringify(all));
}
