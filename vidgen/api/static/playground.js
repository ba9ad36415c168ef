// The playground page: key, form, the generation being watched, and the key's history. This
// module wires the parts together (each lives in its own module) and starts the page.
// Everything goes to this page's own origin (see Api); nothing is loaded from elsewhere.

import { AccountView } from "./account.js";
import { AdminView } from "./admin.js";
import { Api, ApiError } from "./api.js";
import { FieldErrors } from "./errors.js";
import { CreateForm } from "./form.js";
import { HistoryView } from "./history.js";
import { KeyField } from "./key.js";
import { KindInputs } from "./kinds.js";
import { ImagePicker } from "./picker.js";
import { ResultCard } from "./result.js";
import { Submitter } from "./submit.js";
import { $ } from "./ui.js";

const numberMeta = (name, fallback) =>
  Number(document.querySelector(`meta[name="${name}"]`)?.content) || fallback;

const MAX_BODY_BYTES = numberMeta("vidgen-max-body-bytes", 16 * 1024 * 1024);
const LIMITS = {
  maxBytes: numberMeta("vidgen-max-data-uri-bytes", 5 * 1024 * 1024),
  maxPixels: numberMeta("vidgen-max-image-pixels", 40_000_000),
  maxVideoBytes: numberMeta("vidgen-max-video-bytes", 64 * 1024 * 1024),
  upload: (file) => api.upload(file),
};

const keyInput = $("api-key");
const api = new Api(() => keyInput.value.trim());

// -- images: paste anywhere, never navigate away on a stray drop ------------------------------

function bindPageImages() {
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files ?? [])][0];
    if (!file) return;
    event.preventDefault();
    // Into the picker that has the focus, else the first one the form shows.
    const shown = [...document.querySelectorAll("#create .image-field")].filter(
      (host) => !host.closest("[hidden]"),
    );
    const host = shown.find((h) => h.contains(document.activeElement)) ?? shown[0];
    pickers.get(host)?.takeFile(file);
  });
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (!event.target.closest?.(".dropzone")) event.preventDefault();
    });
  }
}

// -- start ----------------------------------------------------------------------------------
// The parts call each other back only on events, so each may name one made after it.

const firstPicker = new ImagePicker($("first-image"), {
  prefix: "first-image",
  labelId: "first-image-label",
  frameName: "first frame",
  limits: LIMITS,
  onChange: () => {
    errors.target("image_url").clear();
    if (form.model) form.matchRatioToImage();
  },
});
const tailPicker = new ImagePicker($("tail-image"), {
  prefix: "tail-image",
  labelId: "tail-image-label",
  frameName: "last frame",
  limits: LIMITS,
  onChange: () => {
    $("tail-set").hidden = !tailPicker.value;
  },
});
const kindInputs = new KindInputs({
  limits: LIMITS,
  onModeChange: () => form.applyMode(),
  onChange: () => {},
});
/** Every picker of the form, by the element it sits in (for a paste). */
const pickers = {
  get: (host) =>
    ({ "first-image": firstPicker, "tail-image": tailPicker })[host?.id] ??
    kindInputs.pickerIn(host),
};
const errors = new FieldErrors({ keyInput, firstPicker, tailPicker, kindInputs });
const form = new CreateForm({ api, errors, firstPicker, tailPicker, kindInputs });
const submitter = new Submitter({
  api,
  keyInput,
  form,
  errors,
  firstPicker,
  tailPicker,
  kindInputs,
  maxBodyBytes: MAX_BODY_BYTES,
  onCreated: (created, sent) => {
    key.refreshBalance();
    if (!key.checked) key.use({ quiet: true }); // a key typed and used at once: save it, show its history
    historyView.upsert({
      id: created.id,
      status: created.status,
      meta: {
        model: sent.model,
        aspect_ratio: sent.ratio,
        progress: 0,
        created_at: new Date().toISOString(),
      },
    });
    result.watch(created.id);
    result.reveal();
  },
});
const noteFor = (id) => submitter.noteFor(id);
const historyView = new HistoryView(
  {
    list: $("history-list"),
    status: $("history-status"),
    more: $("history-more"),
    refresh: $("history-refresh"),
  },
  {
    api,
    onOpen: (id) => {
      result.watch(id, { focus: true });
      result.reveal();
    },
    onCancel: (id) => result.cancel(id),
    onError: (error) => {
      if (error instanceof ApiError && error.status === 401) errors.showApi(error);
    },
    noteFor,
  },
);
const result = new ResultCard({
  api,
  history: historyView,
  noteFor,
  sentFor: (id) => submitter.sentFor(id),
  frameSize: (modelId, ratio) => form.frameSize(modelId, ratio),
  onError: (error) => errors.showApi(error),
  onEnded: () => {
    key.refreshBalance(); // a failure or a cancel refunds
    accountView.load();
  },
  onReuseSeed: (seed) => form.reuseSeed(seed),
});

const adminView = new AdminView({ api });
const accountView = new AccountView({ api, onAdmin: (account) => adminView.show(account) });
const key = new KeyField({ input: keyInput, api, errors, history: historyView, account: accountView });

$("create").addEventListener("submit", (event) => submitter.submit(event));
key.bind();
form.bindPromptAndSeed();
bindPageImages();
form.load();
form.updatePrompt();
