// The angle and colour presets (GET /presets) and the words and colours the page shows for them.
// No DOM: tests/web/labels.test.mjs runs it in node.

export const prettify = (key) => String(key || "").replace(/[_-]+/g, " ").replace(/\b\w/g, (m) => m.toUpperCase());

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

const escapeRe = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const PHRASES = [
  [/^canceled by the dealer$/i, "Cancelled by you."],
  [/^PredictionFailed$/, "The image model could not make this image."],
  [/the workflow ended before this cell finished/i, "the batch stopped before this image was made"],
];

/**
 * A failure reason with every preset key (`angles`/`colors`: [key, label] pairs) replaced by its
 * label, "angle <key>" by the label alone, and known backend phrases by plain words; the first
 * letter capitalised. Pure (tested in tests/web/labels.test.mjs).
 */
export function humanizeReason(text, { angles = [], colors = [] } = {}) {
  let out = String(text || "").trim();
  if (!out) return "";
  for (const [re, words] of PHRASES) out = out.replace(re, words);
  const pairs = [...angles, ...colors].filter(([k]) => k).sort((a, b) => b[0].length - a[0].length);
  for (const [key, label] of angles) {
    out = out.replace(new RegExp(`\\bangle\\s+'?${escapeRe(key)}'?(?![\\w-])`, "g"), label);
  }
  for (const [key, label] of pairs) {
    out = out.replace(new RegExp(`(?<![\\w-])'?${escapeRe(key)}'?(?![\\w-])`, "g"), label);
  }
  return out.charAt(0).toUpperCase() + out.slice(1);
}

const NAMED_COLOURS = [
  ["black", "#16181c"], ["onyx", "#16181c"], ["white", "#f4f4f1"], ["pearl", "#f1f0ea"], ["silver", "#c3c7cd"],
  ["grey", "#7c828b"], ["gray", "#7c828b"], ["graphite", "#4a4f57"], ["red", "#b3121f"], ["blue", "#1f4fa3"],
  ["navy", "#1c2b57"], ["green", "#1f6b45"], ["yellow", "#f2c230"], ["orange", "#e56a1c"], ["gold", "#c9a54a"],
  ["bronze", "#8c5a2b"], ["brown", "#6b4430"], ["beige", "#d8c7a6"], ["purple", "#6a3fa0"], ["teal", "#1d8080"],
];
const UNKNOWN_SWATCH = "conic-gradient(#e0e3e8 0 25%, #c5cad2 0 50%, #e0e3e8 0 75%, #c5cad2 0)";

/** Angles by `order` (stable: ties and angles without one keep the server's order, the latter last). */
export function sortAngles(angles) {
  const rank = (a) => (typeof a.order === "number" && Number.isFinite(a.order) ? a.order : Number.MAX_SAFE_INTEGER);
  return [...(angles || [])].sort((a, b) => rank(a) - rank(b));
}

export class Presets {
  constructor() {
    this.loaded = false;
    this.angles = [];
    this.colors = [];
    this.angleByKey = new Map();
    this.colorByKey = new Map();
    this.pricePerImageUsd = null;
  }

  /** Take the answer of GET /presets: `{angles: [...], colors: [...]}`. */
  set(p) {
    this.angles = sortAngles(p.angles);
    this.colors = [...(p.colors || [])];
    this.angleByKey = new Map(this.angles.map((a) => [a.angleKey, a]));
    this.colorByKey = new Map(this.colors.map((c) => [c.colorKey, c]));
    this.pricePerImageUsd = p.pricing && typeof p.pricing.pricePerImageUsd === "number" ? p.pricing.pricePerImageUsd : null;
    this.loaded = true;
  }

  angleLabel(k) {
    return this.angleByKey.get(k)?.angleLabel || prettify(k);
  }

  angleDesc(k) {
    return this.angleByKey.get(k)?.angleDesc || "";
  }

  colorLabel(k) {
    return this.colorByKey.get(k)?.colorLabel || prettify(k);
  }

  /** "Side profile · Red Metallic" for a cell or gallery item (`{angleKey, colorKey}`). */
  cellTitle(c) {
    return `${this.angleLabel(c.angleKey)}${c.colorKey ? " · " + this.colorLabel(c.colorKey) : ""}`;
  }

  /**
   * A failure reason in the dealer's words: preset keys become their labels ("angle front_0
   * failed: x" → "Front (0°) failed: x"), the backend's own phrases become plain sentences.
   */
  humanize(text) {
    return humanizeReason(text, {
      angles: this.angles.map((a) => [a.angleKey, this.angleLabel(a.angleKey)]),
      colors: this.colors.map((c) => [c.colorKey, this.colorLabel(c.colorKey)]),
    });
  }

  /** CSS colour for a colour preset: the #RRGGBB in promptValue, else a guess from its name. */
  swatch(key) {
    const c = this.colorByKey.get(key);
    const hex = c && /#[0-9a-fA-F]{6}\b/.exec(c.promptValue || "");
    if (hex) return hex[0];
    const words = `${key} ${c?.colorLabel || ""} ${c?.promptValue || ""}`.toLowerCase();
    const named = NAMED_COLOURS.find(([name]) => words.includes(name));
    return named ? named[1] : UNKNOWN_SWATCH;
  }

  /** Preset keys in preset order, keeping only those in `keys` (a Set). */
  angleKeysIn(keys) {
    return this.angles.map((a) => a.angleKey).filter((k) => keys.has(k));
  }

  colorKeysIn(keys) {
    return this.colors.map((c) => c.colorKey).filter((k) => keys.has(k));
  }
}
