"""Turn Natural Earth's country shapes into the world map's outlines, once.

The shapes come from the npm package `world-atlas` (pinned in package.json; `make npm` installs
it): Natural Earth's 1:110m Admin 0 countries as TopoJSON, each country keyed by its ISO 3166-1
numeric code. This command projects them (Equal Earth), simplifies them on their shared arcs
(Douglas-Peucker, so that neighbours keep one common border) and writes SVG path data to
events/data/world-map.json, which is committed: serving the map needs neither npm nor the
package. Run it again only to change the map's detail or projection.
"""

import itertools
import json
import math
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.worldmap import MAP_FILE

SOURCE = Path(settings.BASE_DIR) / "node_modules" / "world-atlas" / "countries-110m.json"
WIDTH = 960
TOLERANCE = 0.5  # px: the most a simplified border strays from Natural Earth's at WIDTH
SOUTHERN_EDGE = -58.0  # degrees: Antarctica and the ocean around it are left out
NORTHERN_EDGE = 84.0  # degrees: a little north of Greenland's northern cape
LEFT_OUT = {"010"}  # Antarctica: no state acts there in these events

# Equal Earth (Šavrič, Patterson and Jenny 2018): an equal-area projection, so that a shaded
# country's area on the map is its area on Earth.
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2


def equal_earth(longitude, latitude):
    lam, phi = math.radians(longitude), math.radians(latitude)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * math.cos(theta) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)))
    y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2))
    return x, y


def simplify(points, tolerance):
    """Douglas-Peucker, keeping both ends (an arc's ends are where borders meet)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        farthest, distance = None, tolerance
        for index in range(first + 1, last):
            x, y = points[index]
            if length:
                d = abs(dy * x - dx * y + x2 * y1 - y2 * x1) / length
            else:
                d = math.hypot(x - x1, y - y1)
            if d > distance:
                farthest, distance = index, d
        if farthest is not None:
            keep[farthest] = True
            stack += [(first, farthest), (farthest, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def clip(ring, keep):
    """Sutherland-Hodgman against one meridian: the part of `ring` (longitude, latitude) where
    `keep(longitude)`, the cut edges closed along the meridian (at ±180)."""
    inside = [keep(longitude) for longitude, _ in ring]
    clipped = []
    for index, point in enumerate(ring):
        previous = ring[index - 1]
        if inside[index] != inside[index - 1]:
            edge = 180.0 if previous[0] > 0 or point[0] > 0 else -180.0
            share = (edge - previous[0]) / (point[0] - previous[0])
            clipped.append((edge, previous[1] + share * (point[1] - previous[1])))
        if inside[index]:
            clipped.append(point)
    return clipped


def across_the_antimeridian(ring):
    """A ring that crosses the 180th meridian (Russia's Chukotka, Fiji) drawn as its two halves,
    one at each edge of the map, instead of a band across the whole world."""
    if not any(abs(a[0] - b[0]) > 180 for a, b in itertools.pairwise(ring)):
        return [ring]
    east = [(lon + 360 if lon < 0 else lon, lat) for lon, lat in ring]
    west = [(lon - 360 if lon > 0 else lon, lat) for lon, lat in ring]
    halves = [clip(east, lambda lon: lon <= 180), clip(west, lambda lon: lon >= -180)]
    return [half for half in halves if len(half) > 2]


class Command(BaseCommand):
    help = "Build events/data/world-map.json from Natural Earth's shapes (npm: world-atlas)."

    def add_arguments(self, parser):
        parser.add_argument("--source", default=str(SOURCE), help="world-atlas countries-110m.json")
        parser.add_argument("--output", default=str(MAP_FILE))

    def handle(self, *args, source, output, **options):
        try:
            topology = json.loads(Path(source).read_text())
        except FileNotFoundError:
            raise CommandError(f"{source} not found: run `make npm` first.") from None
        package = json.loads((Path(source).parent / "package.json").read_text())
        (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]

        # Decode the quantised, delta-encoded arcs to longitude and latitude.
        arcs = []
        for arc in topology["arcs"]:
            qx = qy = 0
            points = []
            for dx, dy in arc:
                qx, qy = qx + dx, qy + dy
                points.append((qx * sx + tx, max(qy * sy + ty, SOUTHERN_EDGE)))
            arcs.append(points)
        right, top = equal_earth(180, 0)[0], equal_earth(0, NORTHERN_EDGE)[1]
        scale = WIDTH / (2 * right)
        height = round((top - equal_earth(0, SOUTHERN_EDGE)[1]) * scale)

        def project(points):
            return [
                ((x + right) * scale, (top - y) * scale)
                for x, y in (equal_earth(lon, lat) for lon, lat in points)
            ]

        # Simplified once per arc, so that neighbours keep one common border.
        simplified = [simplify(project(arc), TOLERANCE) for arc in arcs]

        def rings(indices):
            lonlat, points = [], []
            for index in indices:
                arc, plane = (
                    (arcs[index], simplified[index])
                    if index >= 0
                    else (arcs[~index][::-1], simplified[~index][::-1])
                )
                lonlat.extend(arc if not lonlat else arc[1:])
                points.extend(plane if not points else plane[1:])
            halves = across_the_antimeridian(lonlat)
            if len(halves) == 1:
                return [points]
            return [simplify(project(half), TOLERANCE) for half in halves]

        countries = []
        for geometry in topology["objects"]["countries"]["geometries"]:
            number, name = geometry.get("id"), geometry["properties"]["name"]
            if number in LEFT_OUT or geometry["type"] not in ("Polygon", "MultiPolygon"):
                continue
            polygons = geometry["arcs"]
            if geometry["type"] == "Polygon":
                polygons = [polygons]
            path = []
            for polygon in polygons:
                for points in (points for indices in polygon for points in rings(indices)):
                    # Rounded to a tenth of a pixel; a ring smaller than a pixel is left out.
                    xs, ys = [x for x, _ in points], [y for _, y in points]
                    if max(xs) - min(xs) < 1 and max(ys) - min(ys) < 1:
                        continue
                    path.append(
                        "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points).replace(".0,", ",")
                    )
                    path[-1] += "Z"
            if path:
                countries.append({"iso_numeric": number, "name": name, "d": "".join(path)})
        countries.sort(key=lambda country: country["name"])
        data = {
            "source": (
                f"Natural Earth 1:110m Admin 0 countries, from the npm package world-atlas "
                f"{package['version']}; Equal Earth projection, simplified to {TOLERANCE} px."
            ),
            "width": WIDTH,
            "height": height,
            "countries": countries,
        }
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(data, separators=(",", ":")) + "\n")
        size = Path(output).stat().st_size
        self.stdout.write(f"Wrote {len(countries)} countries to {output} ({size:,} bytes).")
