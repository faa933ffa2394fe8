// The set-up form (left panel): photos (uploads.js), angle and colour presets, auto-colorize, the
// summary line with the cost estimate and the Generate button with the reason it is disabled, and
// the generate flow: upload the photos, then POST /batch with the Idempotency-Key of this form
// content (submission.js): clicking twice, or again after the answer, never starts a second batch.

import { uuid } from "./api.js";
import { estimateUsd, formatUsd } from "./batch_outcome.js";
import { SubmissionKeys, formSignature } from "./submission.js";
import { el } from "./dom.js";
import { plural, prettify } from "./labels.js";
import { toast, toastError } from "./notify.js";
import { PhotoPicker } from "./uploads.js";

const $ = (id) => document.getElementById(id);

export class SetupForm {
  /**
   * @param {object} ctx
   *   presets: labels.js Presets; getConfig(), getApi(); debug(message, ...rest);
   *   onChange() -> the selection changed (the matrix's Colorize buttons depend on it);
   *   submit(body, idempotencyKey) -> POST /batch and show the batch; resolves to the answer;
   *   onStarted() -> bring the results into view
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.presets = ctx.presets;
    this.selAngles = new Set();
    this.selColors = new Set();
    this.auto = true;
    this.busy = false;
    this.busyLabel = "";
    this.keys = new SubmissionKeys(uuid); // one Idempotency-Key per form content
    this.photos = new PhotoPicker({
      getConfig: ctx.getConfig,
      isBusy: () => this.busy,
      onChange: () => this.update(),
    });
  }

  wire() {
    $("setup-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.generate();
    });
    this.photos.wire();
    $("auto-colorize").addEventListener("change", (e) => {
      this.auto = e.target.checked;
      this.update();
    });
    $("angles-all").addEventListener("click", () => this.toggleAll(this.selAngles, this.presets.angles, "angleKey"));
    $("colors-all").addEventListener("click", () => this.toggleAll(this.selColors, this.presets.colors, "colorKey"));
  }

  selectedAngles() {
    return this.presets.angleKeysIn(this.selAngles);
  }

  selectedColors() {
    return this.presets.colorKeysIn(this.selColors);
  }

  renderPresets() {
    const { presets } = this;
    const angleList = $("angle-list");
    angleList.removeAttribute("aria-busy");
    angleList.replaceChildren(
      ...presets.angles.map((a) => {
        const input = this.checkbox(this.selAngles, a.angleKey, `angle-${a.angleKey}`);
        return el("label", { class: "check-row" }, [
          input,
          el("span", { class: "check-text" }, [
            el("span", { class: "check-title" }, a.angleLabel || prettify(a.angleKey)),
            a.angleDesc ? el("span", { class: "check-desc" }, a.angleDesc) : null,
          ]),
        ]);
      }),
    );
    if (!presets.angles.length) angleList.append(el("p", { class: "hint" }, "No angles are enabled."));

    const colorList = $("color-list");
    colorList.removeAttribute("aria-busy");
    colorList.replaceChildren(
      ...presets.colors.map((c) => {
        const input = this.checkbox(this.selColors, c.colorKey, `color-${c.colorKey}`);
        return el("label", { class: "color-chip", title: c.promptValue || "" }, [
          input,
          el("span", { class: "swatch", style: `--swatch:${presets.swatch(c.colorKey)}`, "aria-hidden": "true" }),
          el("span", { class: "chip-label" }, c.colorLabel || prettify(c.colorKey)),
        ]);
      }),
    );
    if (!presets.colors.length) colorList.append(el("p", { class: "hint" }, "No colours are enabled."));
  }

  /** A preset's checkbox, kept in step with `set` (selAngles or selColors). */
  checkbox(set, key, testId) {
    const input = el("input", { type: "checkbox", value: key, "data-testid": testId });
    input.checked = set.has(key);
    input.addEventListener("change", () => {
      if (input.checked) set.add(key);
      else set.delete(key);
      this.update();
    });
    return input;
  }

  syncChecks() {
    for (const input of $("angle-list").querySelectorAll("input")) input.checked = this.selAngles.has(input.value);
    for (const input of $("color-list").querySelectorAll("input")) input.checked = this.selColors.has(input.value);
    $("auto-colorize").checked = this.auto;
  }

  toggleAll(set, items, keyName) {
    if (set.size === items.length) set.clear();
    else for (const item of items) set.add(item[keyName]);
    this.syncChecks();
    this.update();
  }

  /** Show what a restored batch was made with. */
  restoreSelection(batch) {
    this.selAngles = new Set(batch.angles.filter((k) => this.presets.angleByKey.has(k)));
    this.selColors = new Set(batch.colors.filter((k) => this.presets.colorByKey.has(k)));
    this.auto = batch.autoColorize;
    this.syncChecks();
    this.update();
  }

  /** The summary line, the button's text and state, the reason it is disabled. */
  update() {
    const A = this.selectedAngles().length;
    const C = this.selectedColors().length;
    const { busy, auto } = this;
    const images = auto ? A + A * C : A;
    const cost = this.presets.pricePerImageUsd === null ? null : estimateUsd(images, this.presets.pricePerImageUsd);
    const costText = cost === null || !images ? "" : ` · about ${formatUsd(cost)}`;
    $("output-info").textContent = auto
      ? `${plural(A, "angle")} + ${plural(A * C, "colour variant")} = ${plural(images, "image")}${costText}`
      : `${plural(A, "angle")} = ${plural(A, "image")} (colours later)${costText}`;
    $("output-info").title = cost === null ? "" : `Estimate: ${images} × ${formatUsd(this.presets.pricePerImageUsd).replace(/0+$/, "")} per image; only images made are billed`;

    const reasons = [];
    if (!this.presets.loaded) reasons.push("Loading angles and colours…");
    else {
      if (!this.photos.photos.length) reasons.push("Add at least one photo");
      if (this.photos.checking()) reasons.push("Checking photos…");
      for (const bad of this.photos.badPhotos()) reasons.push(`Remove ${bad.file.name}: it is not a usable photo`);
      if (!A) reasons.push("Pick at least one angle");
    }
    const button = $("generate");
    button.textContent = busy
      ? this.busyLabel
      : auto
        ? `Generate ${A} Angles → ${C} Colors each`
        : `Generate ${A} Angles (colors later)`;
    button.disabled = busy || reasons.length > 0;
    button.setAttribute("aria-busy", String(busy));
    button.classList.toggle("is-busy", busy);
    $("generate-reason").textContent = busy ? "" : reasons.join(" · ");
    $("angles-all").textContent = A && A === this.presets.angles.length ? "Clear" : "Select all";
    $("colors-all").textContent = C && C === this.presets.colors.length ? "Clear" : "Select all";
    $("photo-input").disabled = busy;
    this.ctx.onChange();
  }

  setBusy(busy, label = "") {
    this.busy = busy;
    this.busyLabel = label;
    this.photos.render();
    this.update();
  }

  /** The signature of what the form holds now (one Idempotency-Key per signature). */
  signature() {
    return formSignature({
      photoIds: this.photos.photos.map((p) => p.id),
      angles: this.selectedAngles(),
      colors: this.selectedColors(),
      autoColorize: this.auto,
    });
  }

  async generate() {
    if (this.busy || $("generate").disabled) return;
    this.setBusy(true, "Starting…"); // at once: a second click finds the button disabled
    const { debug } = this.ctx;
    const photos = this.photos.photos.slice();
    const angles = this.selectedAngles();
    const colors = this.selectedColors();
    const autoColorize = this.auto;
    const sig = this.signature();
    const key = this.keys.keyFor(sig);
    try {
      await this.photos.upload(this.ctx.getApi(), photos, (label) => this.setBusy(true, label));
      const body = { sourceImageUrls: photos.map((p) => p.sourceImageUrl), angles, colors, autoColorize };
      debug(`batch body: ${body.sourceImageUrls.length} photos, ${angles.length} angles, ${colors.length} colours, autoColorize=${autoColorize}, key=${key}`, body);
      this.setBusy(true, "Starting batch…");
      const known = this.keys.batchFor(sig);
      const answer = await this.ctx.submit(body, key);
      const isNew = answer.batchId !== known;
      this.keys.started(sig, answer.batchId);
      toast(isNew ? "Batch started" : "This batch is already running: showing it", isNew ? "success" : "info");
      this.ctx.onStarted();
    } catch (err) {
      toastError(err);
    } finally {
      this.setBusy(false);
    }
  }
}
