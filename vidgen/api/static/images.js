// Images in the browser: read a picked file, make it something the server accepts, and work out
// how the server will crop it. The rules mirror the server's (vidgen/media/images.py and
// vidgen/core/validation.py), so what the preview shows is what the video starts from.

/** The formats the server decodes; anything else is re-encoded before sending. */
export const SERVER_TYPES = ["image/png", "image/jpeg", "image/webp"];
/** Longest side of a re-encoded image. The largest output frame is 1584 px wide. */
const REENCODE_MAX_SIDE = 2048;
/** The server detects a ratio only for images whose width/height is in this window. */
const DETECTABLE = [0.5, 2.0];

/** "1280x720" → {width: 1280, height: 720} */
export function parseSize(size) {
  const [width, height] = String(size).split("x").map(Number);
  return { width, height };
}

/**
 * The model's ratio nearest to an image's shape, on a log scale (the server's rule when no
 * ratio is sent), or null when the shape is outside the window in which the server detects one.
 * @param {Record<string, string>} ratios ratio → "WxH"
 */
export function nearestRatio(ratios, width, height) {
  const shape = width / height;
  if (!(shape >= DETECTABLE[0] && shape <= DETECTABLE[1])) return null;
  let best = null;
  let bestDistance = Infinity;
  for (const [ratio, size] of Object.entries(ratios)) {
    const frame = parseSize(size);
    const distance = Math.abs(Math.log(frame.width / frame.height) - Math.log(shape));
    if (distance < bestDistance) {
      best = ratio;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The part of an image that a frame keeps when the image is scaled to fill it and the overflow
 * is cut equally from both sides ("fill + centre crop"), as fractions of the image.
 */
export function cropBox(imageWidth, imageHeight, frameWidth, frameHeight) {
  const image = imageWidth / imageHeight;
  const frame = frameWidth / frameHeight;
  if (image > frame) {
    const width = frame / image;
    return { x: (1 - width) / 2, y: 0, width, height: 1 };
  }
  const height = image / frame;
  return { x: 0, y: (1 - height) / 2, width: 1, height };
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Thrown for a file the page will not send; the message is for people. */
export class ImageRefused extends Error {}

/**
 * Read a picked or dropped file into what the server takes: a data URI of a PNG, JPEG or WebP
 * of at most maxBytes and maxPixels. A file that already fits is sent as it is (the server
 * honours its EXIF orientation); anything else is drawn on a canvas, scaled down if needed,
 * and re-encoded as JPEG (transparency over black, as the server would composite it).
 *
 * @returns {Promise<{dataUri: string, previewUrl: string, width: number, height: number,
 *   bytes: number, note: string}>}
 */
export async function prepareImageFile(file, { maxBytes, maxPixels }) {
  const name = file.name || "The pasted file";
  if (!file.type.startsWith("image/")) {
    throw new ImageRefused(
      `“${name}” is not an image${file.type ? ` (${file.type})` : ""}. Choose a PNG, JPEG or WebP file.`,
    );
  }
  const previewUrl = URL.createObjectURL(file);
  const image = new Image();
  image.src = previewUrl;
  try {
    await image.decode();
  } catch {
    URL.revokeObjectURL(previewUrl);
    throw new ImageRefused(
      `This browser cannot read “${name}” as an image. Try exporting it as JPEG or PNG.`,
    );
  }
  const width = image.naturalWidth;
  const height = image.naturalHeight;
  if (!width || !height) {
    URL.revokeObjectURL(previewUrl);
    throw new ImageRefused(`“${name}” has no size the page can read. Try a PNG or JPEG.`);
  }

  const fits =
    SERVER_TYPES.includes(file.type) && file.size <= maxBytes && width * height <= maxPixels;
  if (fits) {
    return {
      dataUri: await readAsDataUri(file),
      previewUrl,
      width,
      height,
      bytes: file.size,
      note: `${width}×${height}, ${formatBytes(file.size)}, sent as it is.`,
    };
  }

  const encoded = await reencode(image, width, height, { maxBytes, maxPixels });
  const reasons = [];
  if (!SERVER_TYPES.includes(file.type)) reasons.push(`the server does not read ${file.type}`);
  if (file.size > maxBytes) reasons.push(`it is over the server's ${formatBytes(maxBytes)} limit`);
  if (width * height > maxPixels) reasons.push("it has more pixels than the server allows");
  return {
    dataUri: await readAsDataUri(encoded.blob),
    previewUrl,
    width: encoded.width,
    height: encoded.height,
    bytes: encoded.blob.size,
    note:
      `Re-encoded in your browser because ${reasons.join(" and ")}: ` +
      `${width}×${height} ${formatBytes(file.size)} → ${encoded.width}×${encoded.height} JPEG, ` +
      `${formatBytes(encoded.blob.size)}.`,
  };
}

async function reencode(image, width, height, { maxBytes, maxPixels }) {
  let scale = Math.min(
    1,
    REENCODE_MAX_SIDE / Math.max(width, height),
    Math.sqrt((maxPixels * 0.98) / (width * height)),
  );
  let quality = 0.9;
  const canvas = document.createElement("canvas");
  for (let attempt = 0; attempt < 12; attempt++) {
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const context = canvas.getContext("2d");
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingQuality = "high";
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && blob.size <= maxBytes) {
      return { blob, width: canvas.width, height: canvas.height };
    }
    // Quality first (cheap in looks), then size.
    if (quality > 0.65) quality -= 0.1;
    else scale *= 0.75;
  }
  throw new ImageRefused("This image could not be made small enough for the server.");
}

function readAsDataUri(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new ImageRefused("The file could not be read."));
    reader.readAsDataURL(blob);
  });
}

/** Width and height of an image the page may load (a data: URI), or null. */
export async function measureImage(src) {
  const image = new Image();
  image.src = src;
  try {
    await image.decode();
    return { width: image.naturalWidth, height: image.naturalHeight };
  } catch {
    return null;
  }
}
