// What a picked file really is, from its first bytes (never its name): pure, tested in node
// (tests/web/photo_check.test.mjs). uploads.js then decodes the types a browser can draw.

/** The image type the bytes begin with: image/jpeg | image/png | image/webp | image/heic, else null. */
export function sniffImageType(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes || []);
  const at = (i, ...values) => values.every((v, j) => b[i + j] === v);
  const ascii = (i, text) => [...text].every((ch, j) => b[i + j] === ch.charCodeAt(0));
  if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg";
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "image/webp";
  if (ascii(4, "ftyp") && ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"].some((brand) => ascii(8, brand))) return "image/heic";
  return null;
}

/** Whether this browser can decode the type to check it (HEIC it cannot: its header is the check). */
export const DECODABLE = new Set(["image/jpeg", "image/png", "image/webp"]);

/** The words the form shows for a photo it cannot use. */
export function badPhotoMessage(name, reason) {
  switch (reason) {
    case "not-image":
      return `${name} is not a photo (its contents are not JPEG, PNG, WebP or HEIC). Remove it or pick another file.`;
    case "undecodable":
      return `${name} could not be read as an image (damaged or incomplete). Remove it or pick another file.`;
    case "empty":
      return `${name} is empty. Remove it or pick another file.`;
    default:
      return `${name} cannot be used.`;
  }
}
