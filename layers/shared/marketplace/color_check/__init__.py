"""The colour check: each colour variant's body paint measured against the paint it asked for.

``measure`` is the pure check (target, measured body, ΔE2000, verdict); ``service.check_cell`` runs
it for a completing colour cell on the webhook's path, bounded in time and never raising. Pillow
and coloraide are imported by the first check, never at a handler's import.
"""

from .measure import OFF, OK, UNKNOWN, ColorCheck, Verdict, check_color, measure_body, parse_target

__all__ = ["OFF", "OK", "UNKNOWN", "ColorCheck", "Verdict", "check_color", "measure_body", "parse_target"]
