// The angle and colour presets (GET /presets) and the words and colours the page shows for them.
// No DOM: tests/web/labels.test.mjs runs it in node.

export const prettify = (key) => String(key || "").replace(/[_-]+/g, " ").replace(/\b\w/g, (m) => m.toUpperCase());

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
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
  }

  /** Take the answer of GET /presets: `{angles: [...], colors: [...]}`. */
  set(p) {
    this.angles = sortAngles(p.angles);
    this.colors = [...(p.colors || [])];
    this.angleByKey = new Map(this.angles.map((a) => [a.angleKey, a]));
    this.colorByKey = new Map(this.colors.map((c) => [c.colorKey, c]));
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
