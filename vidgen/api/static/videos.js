// Videos in the browser: read a picked file into what the server takes. A video is never
// re-encoded here (a browser cannot do that well); it goes inside the request as a data: URI
// when it is small, and is uploaded to this server first when it is not.

import { formatBytes } from "./images.js";

/** Thrown for a video the page will not send; the message is for people. */
export class VideoRefused extends Error {}

/** The containers the server takes (VIDEO_MEDIA_TYPES in vidgen/media/data_uri.py). */
const SERVER_TYPES = ["video/mp4", "video/quicktime", "video/webm"];
/**
 * @param {File} file
 * @param {{maxBytes: number, maxVideoBytes: number,
 *   upload: (file: File) => Promise<string>}} limits
 *   maxBytes: the largest file sent inside the request (VIDGEN_MAX_DATA_URI_BYTES);
 *   maxVideoBytes: the largest input video at all (VIDGEN_MAX_VIDEO_BYTES);
 *   upload: stores the file on the server and answers the URI that names it
 * @returns {Promise<{payload: string, previewUrl: string, note: string}>} the note says how it
 *   travels; the picker's preview adds its size and length once it has read them
 */
export async function prepareVideoFile(file, { maxBytes, maxVideoBytes, upload }) {
  const name = file.name || "The pasted file";
  if (!file.type.startsWith("video/")) {
    throw new VideoRefused(
      `“${name}” is not a video${file.type ? ` (${file.type})` : ""}. Choose an MP4, MOV or WebM file.`,
    );
  }
  if (!SERVER_TYPES.includes(file.type)) {
    throw new VideoRefused(`The server does not read ${file.type} videos. Choose an MP4, MOV or WebM file.`);
  }
  // An upload's request may carry a whole input video (the server's body cap is not its cap).
  const largest = maxVideoBytes;
  if (file.size > largest) {
    throw new VideoRefused(
      `“${name}” is ${formatBytes(file.size)}; this server takes input videos of at most ${formatBytes(largest)}. Give its URL instead, or a shorter or smaller video.`,
    );
  }
  if (file.size <= maxBytes) {
    return {
      payload: await readAsDataUri(file),
      previewUrl: URL.createObjectURL(file),
      note: `${formatBytes(file.size)}, sent inside the request.`,
    };
  }
  let uri;
  try {
    uri = await upload(file);
  } catch (error) {
    throw new VideoRefused(
      `“${name}” is over the ${formatBytes(maxBytes)} this server takes inside a request, and uploading it failed: ${error.message}`,
    );
  }
  return {
    payload: uri,
    previewUrl: URL.createObjectURL(file),
    note:
      `${formatBytes(file.size)}: over the ${formatBytes(maxBytes)} this server takes inside a request, ` +
      "so it was uploaded to this server first (kept 24 hours).",
  };
}

function readAsDataUri(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new VideoRefused("The file could not be read."));
    reader.readAsDataURL(blob);
  });
}
