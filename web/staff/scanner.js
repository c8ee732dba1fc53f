// Reading a member's claim QR code: from the device camera (a live video) or from a
// photo or image file. The browser's own BarcodeDetector is used where it has one
// (Chrome on Android, macOS, ChromeOS); elsewhere (Windows and Linux desktops, iOS) the
// vendored jsQR decoder (web/vendor, Apache-2.0, loaded only when first needed) reads
// the pixels. Nothing leaves the device but the decoded text.

import { loadScript } from "../common/scripts.js";

const VERSION = new URL(import.meta.url).search; // the page's version query
const JSQR = new URL(`../vendor/jsqr-1.4.0/jsQR.js${VERSION}`, import.meta.url).href;
const SCAN_EVERY_MS = 250;

let detector = null;

async function nativeDetector() {
  if (detector !== null) return detector;
  detector = false;
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      detector = false;
    }
  }
  return detector;
}

function pixels(source, width, height) {
  const canvas = document.createElement("canvas");
  // Large photos are scaled down: a claim code's modules stay many pixels wide.
  const scale = Math.min(1, 1280 / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

// The text of the first QR code in an image, video frame or bitmap; null when none.
export async function decode(source, width, height) {
  const native = await nativeDetector();
  if (native) {
    const found = await native.detect(source);
    return found.length ? found[0].rawValue : null;
  }
  await loadScript(JSQR);
  const image = pixels(source, width, height);
  const found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
  return found ? found.data : null;
}

export async function decodeFile(file) {
  const bitmap = await createImageBitmap(file);
  try {
    return await decode(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

export function cameraAvailable() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

// Watch the camera in `video` until a QR code is read: onText(text) gets it, and the
// camera stops. Returns stop(), to end the scan early.
export async function scanCamera(video, onText) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment" },
    audio: false,
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();
  let stopped = false;
  const stop = () => {
    stopped = true;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  const look = async () => {
    if (stopped) return;
    if (video.readyState >= 2 && video.videoWidth) {
      const text = await decode(video, video.videoWidth, video.videoHeight).catch(() => null);
      if (text && !stopped) {
        stop();
        onText(text);
        return;
      }
    }
    setTimeout(look, SCAN_EVERY_MS);
  };
  look();
  return stop;
}
