// Unit tests of web/labels.js: the presets' order, labels and swatch colours.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Presets, humanizeReason, plural, prettify, sortAngles } from "../../web/labels.js";

const ANSWER = {
  angles: [
    { angleKey: "rear_180", angleLabel: "Rear", order: 5 },
    { angleKey: "no_order" },
    { angleKey: "side_90", angleLabel: "Side profile", angleDesc: "Driver's side", order: 3 },
    { angleKey: "front_0", angleLabel: "Front", order: 1 },
    { angleKey: "side_270", angleLabel: "Other side", order: 3 },
  ],
  colors: [
    { colorKey: "red_metallic", colorLabel: "Red Metallic", promptValue: "deep red metallic (#B3121F)" },
    { colorKey: "silver", colorLabel: "Silver", promptValue: "bright silver" },
    { colorKey: "mystery", colorLabel: "Mystery", promptValue: "something else" },
  ],
};

function loaded() {
  const presets = new Presets();
  presets.set(ANSWER);
  return presets;
}

describe("presets", () => {
  test("given angles with and without an order when sorted then they follow order, ties and unordered keep the server's order", () => {
    assert.deepEqual(sortAngles(ANSWER.angles).map((a) => a.angleKey), ["front_0", "side_90", "side_270", "rear_180", "no_order"]);
    assert.deepEqual(sortAngles(undefined), []);
    assert.equal(ANSWER.angles[0].angleKey, "rear_180"); // the answer itself is not reordered
  });

  test("given a presets answer when set then angles, colours and lookups are ready", () => {
    const presets = new Presets();
    assert.equal(presets.loaded, false);
    presets.set(ANSWER);
    assert.equal(presets.loaded, true);
    assert.deepEqual(presets.colors.map((c) => c.colorKey), ["red_metallic", "silver", "mystery"]);
    assert.equal(presets.angleByKey.get("side_90").angleDesc, "Driver's side");
    presets.set({});
    assert.deepEqual([presets.angles, presets.colors], [[], []]);
  });

  test("given known and unknown keys when labelled then preset labels win and unknown keys are prettified", () => {
    const presets = loaded();
    assert.equal(presets.angleLabel("side_90"), "Side profile");
    assert.equal(presets.angleLabel("three-quarter_rear"), "Three Quarter Rear");
    assert.equal(presets.angleDesc("side_90"), "Driver's side");
    assert.equal(presets.angleDesc("front_0"), "");
    assert.equal(presets.colorLabel("red_metallic"), "Red Metallic");
    assert.equal(presets.colorLabel("matte_black"), "Matte Black");
    assert.equal(presets.cellTitle({ angleKey: "side_90", colorKey: "red_metallic" }), "Side profile · Red Metallic");
    assert.equal(presets.cellTitle({ angleKey: "side_90", colorKey: null }), "Side profile");
  });

  test("given colour presets when a swatch is asked for then the prompt's #RRGGBB wins, else a colour named in it, else a checker", () => {
    const presets = loaded();
    assert.equal(presets.swatch("red_metallic"), "#B3121F");
    assert.equal(presets.swatch("silver"), "#c3c7cd");
    assert.equal(presets.swatch("navy_blue"), "#1f4fa3"); // not a preset: guessed from its key ("blue" comes first)
    assert.match(presets.swatch("mystery"), /^conic-gradient\(/);
  });

  test("given a selection when listed then keys come in preset order and unknown keys are dropped", () => {
    const presets = loaded();
    assert.deepEqual(presets.angleKeysIn(new Set(["rear_180", "front_0", "gone"])), ["front_0", "rear_180"]);
    assert.deepEqual(presets.colorKeysIn(new Set(["mystery", "red_metallic"])), ["red_metallic", "mystery"]);
  });
});

describe("wording", () => {
  test("given counts when pluralised then one is singular and everything else plural", () => {
    assert.deepEqual([0, 1, 2].map((n) => plural(n, "image")), ["0 images", "1 image", "2 images"]);
  });

  test("given keys when prettified then separators become spaces and words are capitalised", () => {
    assert.equal(prettify("front_three-quarter"), "Front Three Quarter");
    assert.equal(prettify(null), "");
  });
});

describe("failure reasons in the dealer's words", () => {
  const names = { angles: [["front_0", "Front (0°)"], ["front_01", "Front close"]], colors: [["red_metallic", "Red Metallic"]] };
  test("given a reason naming preset keys when humanized then the labels replace them, whole keys only", () => {
    assert.equal(humanizeReason("angle front_0 failed: Prediction interrupted", names), "Front (0°) failed: Prediction interrupted");
    assert.equal(humanizeReason("front_01 and red_metallic", names), "Front close and Red Metallic");
    assert.equal(humanizeReason("front_0x is unknown", names), "Front_0x is unknown");
  });

  test("given the backend's own phrases when humanized then they read as sentences", () => {
    assert.equal(humanizeReason("canceled by the dealer"), "Cancelled by you.");
    assert.equal(humanizeReason("PredictionFailed"), "The image model could not make this image.");
    assert.equal(humanizeReason(""), "");
  });
});
