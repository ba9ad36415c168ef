// One input of the form (a frame, a reference image, an input video, a character): pick, drop
// or paste a file, or type a URL; for a frame, see what the chosen ratio will cut from it.

import { cropBox, ImageRefused, measureImage, prepareImageFile } from "./images.js";
import { prepareVideoFile, VideoRefused } from "./videos.js";

const VIDEO_ACCEPT = "video/mp4,video/quicktime,video/webm";
/** What a picker says, by what it takes. */
const WORDING = {
  image: {
    drop: "Drop an image here",
    choose: "Choose an image…",
    url: "…or an image URL",
    placeholder: "https://example.com/photo.jpg",
    accept: "image/*",
    help: "PNG, JPEG or WebP. Other types are converted, and large images scaled down, before sending.",
  },
  video: {
    drop: "Drop a video here",
    choose: "Choose a video…",
    url: "…or a video URL",
    placeholder: "https://example.com/clip.mp4",
    accept: VIDEO_ACCEPT,
    help: "MP4, MOV or WebM. A small file goes inside the request; a larger one is uploaded to this server first.",
  },
  either: {
    drop: "Drop an image or a video here",
    choose: "Choose a file…",
    url: "…or its URL",
    placeholder: "https://example.com/actor.mp4",
    accept: `image/*,${VIDEO_ACCEPT}`,
    help: "An image (PNG, JPEG, WebP) or a video (MP4, MOV, WebM).",
  },
};

export class ImagePicker {
  /**
   * @param {HTMLElement} host where the picker goes (its data-field names the API field)
   * @param {{prefix: string, labelId: string, frameName: string,
   *   limits: {maxBytes: number, maxPixels: number, maxVideoBytes?: number,
   *     upload?: (file: File) => Promise<string>},
   *   media?: "image"|"video"|"either", onChange: () => void}} options
   */
  constructor(host, { prefix, labelId, frameName, limits, media = "image", onChange }) {
    this.host = host;
    this.field = host.dataset.field;
    this.limits = limits;
    this.media = media;
    this.onChange = onChange;
    /** @type {null | {kind: "file"|"url", payload: string, width?: number, height?: number,
     *   previewUrl?: string, name?: string, note?: string, kept?: boolean, video?: boolean}} */
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
    this.video = part("video");
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
    const wording = WORDING[media];
    part("drop-text").textContent = wording.drop;
    part("file-text").textContent = wording.choose;
    part("url-text").textContent = wording.url;
    part("help").textContent = wording.help;
    this.fileInput.accept = wording.accept;
    this.urlInput.placeholder = wording.placeholder;

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
    // A picked video's size and length, read by its own preview (the browser's codecs are not
    // the server's: one it cannot read may still be one the server takes, so nothing is refused).
    this.video.addEventListener("loadedmetadata", () => {
      const value = this.value;
      if (!value?.video || value.width || !this.video.videoWidth) return;
      value.width = this.video.videoWidth;
      value.height = this.video.videoHeight;
      value.note = `${value.width}×${value.height}, ${this.video.duration.toFixed(1)} s, ${value.note}`;
      this.showNote(value.note);
    });
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

  /** {field, message} when the URL typed is not one the server fetches (http or https), else null. */
  urlProblem(field) {
    const value = this.value;
    if (value?.kind !== "url" || value.payload.startsWith("data:")) return null;
    try {
      const url = new URL(value.payload);
      if (url.protocol === "https:" || url.protocol === "http:") return null;
    } catch {
      /* fall through */
    }
    return { field, message: "Enter a full address starting with https://" };
  }

  /** Natural size of the image, when the page knows it. */
  get size() {
    return this.value && this.value.width ? { width: this.value.width, height: this.value.height } : null;
  }

  async takeFile(file) {
    this.clearError();
    this.urlInput.value = "";
    this.showNote(`Reading “${file.name || "file"}”…`);
    const work = this.prepare(file);
    this.busy = work.catch(() => null);
    try {
      this.setValue(await work);
    } catch (error) {
      this.clear({ keepError: true });
      this.fileInput.value = "";
      const refused = error instanceof ImageRefused || error instanceof VideoRefused;
      this.showError(refused ? error.message : "The file could not be read.");
    } finally {
      this.busy = null;
    }
  }

  /** The value a file becomes, by what this picker takes and what the file is. */
  async prepare(file) {
    const isVideo = file.type.startsWith("video/");
    if (this.media === "video" || (this.media === "either" && isVideo)) {
      const prepared = await prepareVideoFile(file, this.limits);
      return { kind: "file", video: true, name: file.name || "Pasted video", ...prepared };
    }
    if (this.media === "either" && !file.type.startsWith("image/")) {
      throw new ImageRefused(
        `“${file.name || "The pasted file"}” is neither an image nor a video. Choose a PNG, JPEG, WebP, MP4, MOV or WebM file.`,
      );
    }
    const prepared = await prepareImageFile(file, this.limits);
    return {
      kind: "file",
      payload: prepared.dataUri,
      width: prepared.width,
      height: prepared.height,
      previewUrl: prepared.previewUrl,
      name: file.name || "Pasted image",
      note: prepared.note,
    };
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
    const moving = Boolean(value.video && value.previewUrl);
    const previewable = !moving && Boolean(value.previewUrl && value.width);
    this.canvas.hidden = !previewable;
    this.video.hidden = !moving;
    this.remote.hidden = previewable || moving;
    if (moving) {
      if (this.video.getAttribute("src") !== value.previewUrl) this.video.src = value.previewUrl;
      this.video.setAttribute("aria-label", `Preview of ${value.name}`);
    } else if (this.video.hasAttribute("src")) {
      this.video.removeAttribute("src");
      this.video.load();
    }
    if (moving) {
      // An input video's shape decides the output's; there is no frame to crop it to.
    } else if (previewable) {
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
