// Small helpers every part of the page uses: find an element, word a message, show it, and
// tell screen readers about it.

export const $ = (id) => document.getElementById(id);

/** "could not connect" → "Could not connect." */
export function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** Put text in a message element, hiding it when there is none. */
export function showMessage(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

/** Say something through the page's polite live region. */
export function announce(text) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // Set after a beat, so the same words are read again when repeated.
  window.setTimeout(() => (announcer.textContent = text), 50);
}
