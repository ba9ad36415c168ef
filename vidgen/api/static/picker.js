// One image input (the first frame, or the last): pick, drop or paste a file, or type a URL;
// see the frame the chosen ratio will cut from it.

import { cropBox, ImageRefused, measureImage, prepareImageFile } from "./images.js";

export class ImagePicker {
  /**
   * @param {HTMLElement} host where the picker goes (its data-field names the API field)
   * @param {{prefix: string, labelId: string, frameName: string,
   *   limits: {maxBytes: number, maxPixels: number},
   *   onChange: () => void}} options
   */
  constructor(host, { prefix, labelId, frameName, limits, onChange }) {
    this.host = host;
    this.field = host.dataset.field;
    this.limits = limits;
    this.onChange = onChange;
    /** @type {null | {kind: "file"|"url", payload: string, width?: number, height?: number,
     *   previewUrl?: string, name?: string, note?: string, kept?: boolean}} */
    this.value = null;
    this.frame = null;
    this.busy = null; // the Promise of a file being read, so submit can wait for it

    const fragment = document.getElementById("image-picker-template").content.cloneNode(true);
    const part = (role) => fragment.querySelector(`[data-role="${role}"]`);
    this.root = fragment.querySelector(".picker");
    this.dropzone = part("dropzone");
    this.empty = part("empty");
    this.fileInput = part("file");
    this.frameBox = part("frame");
    this.canvas = part("canvas");
    this.image = part("image");
    this.crop = part("crop");
    this.cropLabel = part("crop-label");
    this.remote = part("remote");
    this.remoteLabel = part("remote-label");
    this.bar = part("bar");
    this.nameLabel = part("name");
    this.note = part("note");
    this.urlInput = part("url");
    this.error = part("error");
    this.replaceButton = part("replace");
    const remove = part("remove");

    this.root.setAttribute("role", "group");
    this.root.setAttribute("aria-labelledby", labelId);
    this.fileInput.id = `${prefix}-file`;
    this.urlInput.id = `${prefix}-url`;
    // Two pickers on one page: each control's name says which frame it sets.
    for (const [role, input] of [["file-label", this.fileInput], ["url-label", this.urlInput]]) {
      const label = part(role);
      label.htmlFor = input.id;
      const which = document.createElement("span");
      which.className = "visually-hidden";
      which.textContent = ` for the ${frameName}`;
      label.append(which);
    }
    this.error.id = `${prefix}-error`;
    this.note.id = `${prefix}-note`;
    const described = `${this.note.id} ${this.error.id}`;
    this.fileInput.setAttribute("aria-describedby", described);
    this.urlInput.setAttribute("aria-describedby", described);
    host.append(fragment);

    this.fileInput.addEventListener("change", () => {
      const [file] = this.fileInput.files;
      if (file) this.takeFile(file);
    });
    this.replaceButton.addEventListener("click", () => this.fileInput.click());
    // The whole empty zone opens the file dialog for a mouse; the keyboard has the button.
    this.empty.addEventListener("click", (event) => {
      if (!event.target.closest("label, input, a, button")) this.fileInput.click();
    });
    remove.addEventListener("click", () => {
      this.clear();
      this.fileInput.focus();
    });
    this.urlInput.addEventListener("input", () => this.takeUrl(this.urlInput.value));
    this.bindDrop();
  }

  bindDrop() {
    const zone = this.dropzone;
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const file = event.dataTransfer.files[0];
      if (file) {
        this.takeFile(file);
        return;
      }
      // An image dragged from another page arrives as its address.
      const uri = event.dataTransfer.getData("text/uri-list") || event.dataTransfer.getData("text/plain");
      const first = uri.split(/\r?\n/).find((line) => line && !line.startsWith("#"));
      if (first) {
        this.urlInput.value = first.trim();
        this.takeUrl(this.urlInput.value);
      }
    });
  }

  /** The image_url / tail_image_url value to send, or null. */
  get payload() {
    return this.value ? this.value.payload : null;
  }

  /** Natural size of the image, when the page knows it. */
  get size() {
    return this.value && this.value.width ? { width: this.value.width, height: this.value.height } : null;
  }

  async takeFile(file) {
    this.clearError();
    this.urlInput.value = "";
    this.showNote(`Reading “${file.name || "image"}”…`);
    const work = prepareImageFile(file, this.limits);
    this.busy = work.catch(() => null);
    try {
      const prepared = await work;
      this.setValue({
        kind: "file",
        payload: prepared.dataUri,
        width: prepared.width,
        height: prepared.height,
        previewUrl: prepared.previewUrl,
        name: file.name || "Pasted image",
        note: prepared.note,
      });
    } catch (error) {
      this.clear({ keepError: true });
      this.fileInput.value = "";
      this.showError(error instanceof ImageRefused ? error.message : "The file could not be read.");
    } finally {
      this.busy = null;
    }
  }

  async takeUrl(raw) {
    const url = raw.trim();
    this.clearError();
    if (!url) {
      if (this.value?.kind === "url") this.setValue(null);
      return;
    }
    const value = { kind: "url", payload: url, name: url };
    // A data: URI is local, so it can be previewed; an http(s) address is the server's to fetch.
    if (url.startsWith("data:image/")) {
      const size = await measureImage(url);
      if (this.urlInput.value.trim() !== url) return; // typed on meanwhile
      if (size) Object.assign(value, size, { previewUrl: url });
    }
    this.setValue(value);
  }

  setValue(value) {
    const old = this.value;
    if (old?.previewUrl?.startsWith("blob:") && !old.kept && old.previewUrl !== value?.previewUrl) {
      URL.revokeObjectURL(old.previewUrl);
    }
    this.value = value;
    this.render();
    this.onChange();
  }

  clear({ keepError = false } = {}) {
    this.urlInput.value = "";
    this.fileInput.value = "";
    if (!keepError) this.clearError();
    this.setValue(null);
  }

  /** Show the crop of a frame of this size (the chosen ratio's output size). */
  setFrame(frame) {
    this.frame = frame;
    this.render();
  }

  render() {
    const value = this.value;
    const hasFile = value?.kind === "file";
    this.empty.hidden = Boolean(value);
    this.frameBox.hidden = !value;
    this.bar.hidden = !hasFile;
    this.dropzone.classList.toggle("filled", Boolean(value));
    this.showNote(value?.note ?? "");
    if (!value) return;
    this.nameLabel.textContent = value.name ?? "";
    const frame = this.frame;
    const label = frame ? `${frame.ratio} · ${frame.width}×${frame.height}` : "";
    const previewable = Boolean(value.previewUrl && value.width);
    this.canvas.hidden = !previewable;
    this.remote.hidden = previewable;
    if (previewable) {
      if (this.image.getAttribute("src") !== value.previewUrl) this.image.src = value.previewUrl;
      this.image.alt = `Preview of ${value.name}`;
      this.canvas.style.setProperty("--ar", String(value.width / value.height));
      if (frame) {
        const box = cropBox(value.width, value.height, frame.width, frame.height);
        this.crop.hidden = false;
        this.crop.style.setProperty("--x", `${box.x * 100}%`);
        this.crop.style.setProperty("--y", `${box.y * 100}%`);
        this.crop.style.setProperty("--w", `${box.width * 100}%`);
        this.crop.style.setProperty("--h", `${box.height * 100}%`);
        this.cropLabel.textContent = label;
        this.image.alt = `Preview of ${value.name}; the highlighted ${frame.ratio} area is what the video keeps`;
      } else {
        this.crop.hidden = true;
      }
    } else {
      this.remote.style.setProperty("--ar", frame ? String(frame.width / frame.height) : "1.7778");
      this.remoteLabel.textContent = label;
    }
  }

  showNote(text) {
    this.note.textContent = text;
    this.note.hidden = !text;
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.dropzone.classList.add("invalid");
    const target = this.value?.kind === "url" ? this.urlInput : this.fileInput;
    target.setAttribute("aria-invalid", "true");
  }

  clearError() {
    this.error.textContent = "";
    this.error.hidden = true;
    this.dropzone.classList.remove("invalid");
    this.fileInput.removeAttribute("aria-invalid");
    this.urlInput.removeAttribute("aria-invalid");
  }

  /** Focus the control that holds the current value (for errors). */
  focus() {
    if (this.value?.kind === "url") this.urlInput.focus();
    else if (this.value) this.replaceButton.focus(); // the file input hides once a file is in
    else this.fileInput.focus();
  }

  setDisabled(disabled) {
    this.fileInput.disabled = disabled;
    this.urlInput.disabled = disabled;
  }
}
