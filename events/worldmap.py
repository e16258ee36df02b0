"""The world map: countries shaded by how many of the events listed involve them, drawn on the
server as SVG (templates/events/_map.html) from outlines built once from Natural Earth
(`manage.py build_world_map`, events/data/world-map.json).

Nothing here queries: the views count (events/aggregates.py `counts`, from the rollup cells
where they answer, else a sample said to be an estimate) and pass the counts and the
countries' names in.
"""

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

MAP_FILE = Path(__file__).resolve().parent / "data" / "world-map.json"

# What a country's count means, as the `map` parameter picks it: the listing's own filters.
MEASURES = {
    "country": ("involved", "Involved", "events involving it", "involve"),
    "initiator": ("initiated", "Initiated", "events it initiated", "were initiated by"),
    "target": ("targeted", "Targeted", "events targeting it", "target"),
}
DEFAULT_MEASURE = "country"
# Shades: none, then five steps whose bounds grow geometrically up to the largest count.
STEPS = 5


@functools.cache
def outlines():
    return json.loads(MAP_FILE.read_text())


def measure_of(value):
    return value if value in MEASURES else DEFAULT_MEASURE


def bounds(largest, steps=STEPS):
    """The upper bounds of the shades for counts 1..largest: geometric, so that a country with
    a few events is not lost beside one with thousands; no two shades for one count."""
    if largest <= 0:
        return []
    uppers = []
    for step in range(1, steps + 1):
        upper = max(1, round(largest ** (step / steps)))
        if not uppers or upper > uppers[-1]:
            uppers.append(upper)
    uppers[-1] = largest
    return uppers


def shade(count, uppers, steps=STEPS):
    """The shade (0 for none, else 1..steps) of `count`: with fewer bounds than shades (few
    distinct counts), spread over the whole scale, so that the largest is always the darkest."""
    if not count:
        return 0
    index = next(index for index, upper in enumerate(uppers, 1) if count <= upper)
    return -(-index * steps // len(uppers))


@dataclass
class Country:
    code: str
    name: str
    count: int
    shade: int
    page_url: str
    list_url: str
    d: str = ""


def world_map(found, countries, *, measure, list_url, measure_url, sampled=None, this=None):
    """The map's shapes, legend, table and measure links.

    `found`: {alpha-2: events} for `measure` (`country`, `initiator` or `target`); other keys
    (a coalition's `coalition:slug`, empty) are not countries and are left out. `countries`:
    {alpha-2: (name, ISO numeric)} of every country. `list_url(code)`: the address of the events
    counted for a country (the listing, filtered). `measure_url(measure)`: the address that
    shows the map by another measure. `sampled`: the size of the sample counted, when the
    counts are an estimate. `this`: the country whose page the map is on, marked, not shaded.
    """
    by_number = {number: code for code, (_, number) in countries.items() if number}
    counts = {
        code: count
        for code, count in found.items()
        if code in countries and code != this and count > 0
    }
    uppers = bounds(max(counts.values(), default=0))

    def entry(code, d=""):
        count = counts.get(code, 0)
        return Country(
            code=code,
            name=countries[code][0],
            count=count,
            shade=shade(count, uppers),
            page_url=reverse("country-detail", kwargs={"code": code}),
            list_url=list_url(code),
            d=d,
        )

    shapes, unnamed = [], []
    for outline in outlines()["countries"]:
        code = by_number.get(outline["iso_numeric"])
        if code is None:
            # Natural Earth draws a few places ISO gives no number (Kosovo, Somaliland,
            # Northern Cyprus): outlines, not countries of this database.
            unnamed.append(outline)
        else:
            shapes.append(entry(code, outline["d"]))
    rows = sorted((entry(code) for code in counts), key=lambda row: (-row.count, row.name))
    lower = 1
    legend = []
    for upper in uppers:
        label = f"{lower:,}" if upper == lower else f"{lower:,}–{upper:,}"
        legend.append((shade(upper, uppers), label))
        lower = upper + 1
    word, _, meaning, verb = MEASURES[measure]
    return {
        "shapes_svg": shapes_svg(shapes, unnamed, this, meaning),
        "width": outlines()["width"],
        "height": outlines()["height"],
        "source": outlines()["source"],
        "shapes": shapes,
        "unnamed": unnamed,
        "this": this,
        "this_name": countries[this][0] if this in countries else None,
        "rows": rows,
        "legend": legend,
        "measure": measure,
        "word": word,
        "meaning": meaning,
        "verb": verb,
        "sampled": sampled,
        "measures": [(key, MEASURES[key][1], measure_url(key), key == measure) for key in MEASURES],
    }


def shapes_svg(shapes, unnamed, this, meaning):
    """The countries as SVG markup (templates/events/_map.html): a link for a country with
    events, named with its figure; a plain shape for one without, and for the places ISO
    gives no number; this page's own country marked. Written here rather than looped over in
    the template (some 180 shapes: a tenth of the listing's time); names are escaped."""
    parts = []
    for country in shapes:
        name = escape(country.name)
        if country.code == this:
            parts.append(
                f'<path class="map-this" d="{country.d}">'
                f"<title>{name} (this country)</title></path>"
            )
        elif country.count:
            label = f"{name}: {country.count:,} {meaning}"
            parts.append(
                f'<a href="{escape(country.page_url)}" class="map-country" aria-label="{label}">'
                f"<title>{label}</title>"
                f'<path class="map-shade-{country.shade}" d="{country.d}"/></a>'
            )
        else:
            parts.append(
                f'<path class="map-shade-0" d="{country.d}"><title>{name}: none</title></path>'
            )
    parts += [
        f'<path class="map-shade-0" d="{outline["d"]}">'
        f"<title>{escape(outline['name'])}</title></path>"
        for outline in unnamed
    ]
    return mark_safe("".join(parts))
