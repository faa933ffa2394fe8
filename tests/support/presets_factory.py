"""Writes presets CSVs with many angles and colours (for scale tests and benchmarks)."""

from __future__ import annotations

import csv
from pathlib import Path


def write_large_presets(folder: Path, angles: int, colors: int) -> None:
    with (folder / "angle_presets.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["angle_key", "angle_label", "angle_desc", "order", "enabled"])
        for i in range(angles):
            writer.writerow([f"angle_{i:02d}", f"Angle {i * 12}°", f"view from {i * 12} degrees", i, "TRUE"])
    with (folder / "color_presets.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["color_key", "color_label", "prompt_value", "enabled"])
        for i in range(colors):
            writer.writerow([f"color_{i:02d}", f"Colour {i}", f"Colour #{(i * 6151) % 0xFFFFFF:06X}", "TRUE"])
