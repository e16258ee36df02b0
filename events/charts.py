"""Pictures drawn on the server: a timeline of events and a who-expelled-whom chart.

Both functions only compute geometry from objects the views have already loaded (no queries);
the templates `events/_timeline.html` and `events/_expulsions.html` turn it into inline SVG, so
everything a curator typed is escaped by the template engine and no JavaScript is needed.
"""

import datetime
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import mark_safe

from .models import DatePrecision, EventKind, Role

# One colour and one shape per kind: colour for the eye, shape (and the lane) so that kinds
# stay apart without colour vision. Colours are from the Okabe–Ito palette, dark enough for
# a 3:1 contrast on white.
KIND_STYLES = {
    EventKind.EXPULSION: ("#c0392b", "diamond"),
    EventKind.SUMMIT: ("#0072b2", "square"),
    EventKind.MEETING: ("#009e73", "circle"),
    EventKind.PHONE_CALL: ("#8e44ad", "triangle"),
    EventKind.STATEMENT: ("#b35806", "circle"),
    EventKind.SANCTION: ("#444444", "square"),
    EventKind.AGREEMENT: ("#2c7fb8", "diamond"),
    EventKind.INCIDENT: ("#d55e00", "triangle"),
}

WIDTH = 960
GUTTER = 120  # lane labels
RIGHT = 20
TOP = 10
AXIS = 30  # tick labels under the lanes
ROW = 20  # one sub-row of marks
MARK = 6  # half the size of a one-day mark
MAX_TITLE = 78  # characters of an event title drawn inside a chart

# Mark labels. Text is measured by a conservative estimate, not by a font: each character at
# the widest advance of its class in DejaVu Sans (the widest of the usual system-ui fonts) at
# 11 px, so that an estimated label is never shorter than the drawn one.
NARROW = set(" !'(),-./:;I[]fijlrt|")
WIDE = set("MWmw…—%@")
CHAR_WIDTHS = (4.6, 7.0, 8.7, 11.0)  # narrow, lower case and digits, capitals, wide
NUMBER_DIGIT = 7.7  # a digit of a number (10 px bold), with room to spare
LABEL_GAP = 4  # between a mark and its own label or number
LABEL_SPACE = 10  # at least between a label and the next mark or label in its sub-row
LABEL_MIN = 16  # characters a shortened label keeps at least (or the whole title), else a number
LABEL_MAX = 60  # characters of a label at most; the mark's <title> and the table have the rest
# A label's width at most: a mark's link (mark and label) then fits the timeline's box on a
# 390 px phone (about 340 px), so that focusing it scrolls all of it into view.
LABEL_WIDTH = 290


def shape_geometry(shape, x, y, r=MARK):
    """Where to draw a mark of `shape` centred on (x, y): the attributes each SVG element needs."""
    if shape == "diamond":
        r += 1
        points = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}"
    elif shape == "triangle":
        points = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y + r - 1:.1f} {x - r:.1f},{y + r - 1:.1f}"
    else:
        points = ""
    return {
        "shape": shape,
        "cx": f"{x:.1f}",
        "cy": f"{y:.1f}",
        "r": r,
        "left": f"{x - r + 1:.1f}",
        "top": f"{y - r + 1:.1f}",
        "size": 2 * r - 2,
        "points": points,
    }


def _char_width(char):
    if char in NARROW:
        return CHAR_WIDTHS[0]
    if char in WIDE or ord(char) >= 0x2E80:  # the CJK scripts too: a full em
        return CHAR_WIDTHS[3]
    return CHAR_WIDTHS[2] if char.isupper() else CHAR_WIDTHS[1]


def text_width(text):
    """The estimated width in px of `text` drawn as a mark's label (11 px): never less than
    drawn (see CHAR_WIDTHS)."""
    return sum(_char_width(char) for char in text)


def shorten(text, limit=MAX_TITLE):
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class Mark:
    event: object
    x: float
    y: float
    width: float  # 0 for a one-day mark
    colour: str
    shape: str
    # A span cut at the axis's start or end (it goes on beyond the period shown).
    cut_start: bool = False
    cut_end: bool = False
    row: int = 0  # the sub-row within its lane
    # Filled by `_label_row`: a visible label beside the mark (or inside its bar), else a
    # number that the key under the chart explains.
    label: str = ""
    label_x: float = 0
    label_anchor: str = "start"  # "end" for a label drawn to the left of its mark
    label_inside: bool = False
    number: int | None = None

    @property
    def is_span(self):
        return self.width > 0

    @property
    def left(self):
        """Left edge of what the mark draws (a cut span's arrowhead lies in the gutter)."""
        return self.x if self.is_span else self.x - MARK - 1

    @property
    def right(self):
        """Right edge of what the mark draws, its arrowhead at a cut end included."""
        if not self.is_span:
            return self.x + MARK + 1
        return self.x + self.width + (7 if self.cut_end else 0)

    @property
    def text_y(self):
        """Baseline of a label or number: centred on the mark."""
        return self.y + 4

    @property
    def number_x(self):
        return self.right + 2

    @property
    def label_extent(self):
        """(left, right) of the label as estimated, or None: what the layout keeps apart."""
        if not self.label:
            return None
        width = text_width(self.label)
        if self.label_anchor == "end":
            return self.label_x - width, self.label_x
        return self.label_x, self.label_x + width

    @property
    def geometry(self):
        return shape_geometry(self.shape, self.x, self.y)

    @property
    def span_y(self):
        return self.y - 6

    @property
    def arrow_points(self):
        """Arrowheads at the edges where the span was cut: it goes on beyond the axis."""
        points = []
        if self.cut_start:
            x = self.x
            points.append(
                f"{x - 7:.1f},{self.y:.1f} {x:.1f},{self.y - 7:.1f} {x:.1f},{self.y + 7:.1f}"
            )
        if self.cut_end:
            x = self.x + self.width
            points.append(
                f"{x + 7:.1f},{self.y:.1f} {x:.1f},{self.y - 7:.1f} {x:.1f},{self.y + 7:.1f}"
            )
        return points


@dataclass
class Lane:
    label: str
    colour: str
    shape: str
    y: float
    height: float
    marks: list = field(default_factory=list)

    @property
    def label_y(self):
        return self.y + min(self.height, ROW + 4) / 2 + 4

    @property
    def rule_y(self):
        return self.y + self.height + 3


def _day_after(day):
    return day + datetime.timedelta(days=1)


def _ticks(start, end):
    """Tick dates for the axis, about a dozen at most, and their unit: year, month or day."""
    days = (end - start).days
    ticks = []
    if days > 3 * 366:
        year = start.year + (start.month > 1 or start.day > 1)
        step = max(1, (end.year - year) // 10 + 1)
        for y in range(year, end.year + 1, step):
            ticks.append(datetime.date(y, 1, 1))
        return ticks, "year"
    if days > 75:
        month = datetime.date(start.year, start.month, 1)
        if month < start:
            month = datetime.date(month.year + month.month // 12, month.month % 12 + 1, 1)
        months = (end.year - month.year) * 12 + end.month - month.month + 1
        step = max(1, months // 10 + (months % 10 > 0))
        index = 0
        while month <= end:
            if index % step == 0:
                ticks.append(month)
            month = datetime.date(month.year + month.month // 12, month.month % 12 + 1, 1)
            index += 1
        return ticks, "month"
    step = max(1, days // 10)
    day = start
    while day <= end:
        ticks.append(day)
        day += datetime.timedelta(days=step)
    return ticks, "day"


def tick_labels(ticks, unit):
    """Labels for the ticks shown: a month or day carries its year on the first tick and
    wherever the year changes from the tick before ("Nov", "Feb 2017"), never only in January
    (which a step of several months may skip)."""
    labels, year = [], None
    for day in ticks:
        with_year = day.year != year
        if unit == "year":
            labels.append(str(day.year))
        elif unit == "month":
            labels.append(day.strftime("%b %Y" if with_year else "%b"))
        else:
            labels.append(day.strftime("%-d %b %Y" if with_year else "%-d %b"))
        year = day.year
    return labels


def focus_range(events):
    """The period the axis shows: that of the events dated to the day or month, when some are
    and events known only to the year reach outside it; None to show every event's period.

    A few long, coarse spans (an event known only as "2014–2016") would otherwise squash the
    finely dated ones (eighteen in one March) into a column."""
    fine = [event for event in events if event.date_precision != DatePrecision.YEAR]
    if not fine:
        return None
    first = min(event.start_date for event in fine)
    last = max(_day_after(event.period_end) for event in fine)
    if all(first <= e.start_date and _day_after(e.period_end) <= last for e in events):
        return None
    return first, last


def timeline(events, width=WIDTH, *, whole=False):
    """Lanes by kind, one mark per event; month and year precision drawn as spans.

    Marks that would overlap within a lane go to the next free sub-row, so every event stays
    visible and clickable however many share a day. The axis covers the finely dated events
    (`focus_range`): a coarse span reaching outside it is cut at the edge and drawn with an
    arrow there (`clipped` says how many); `whole` shows every event's whole period instead.
    """
    events = list(events)
    if not events:
        return None
    focus = None if whole else focus_range(events)
    if focus:
        first, last = focus
    else:
        first = min(event.start_date for event in events)
        last = max(_day_after(event.period_end) for event in events)
    if (last - first).days < 30:
        first -= datetime.timedelta(days=15)
        last += datetime.timedelta(days=15)
    pad = datetime.timedelta(days=max(1, (last - first).days // 40))
    first, last = first - pad, last + pad
    span_days = (last - first).days
    plot = width - GUTTER - RIGHT

    def x_of(day):
        return GUTTER + plot * (day - first).days / span_days

    def x_within(day):
        """x of `day`, held to the plot; and which edge it was cut at, if any."""
        x = x_of(day)
        if x < GUTTER:
            return GUTTER, "left"
        if x > width - RIGHT:
            return width - RIGHT, "right"
        return x, None

    clipped = 0
    # Every mark keeps room for a number after it (as many digits as the event count has),
    # so a mark that gets no label can always carry its number legibly.
    number_room = LABEL_GAP + len(str(len(events))) * NUMBER_DIGIT

    kinds = [kind for kind in EventKind if any(event.kind == kind for event in events)]
    lanes, y = [], TOP
    for kind in kinds:
        colour, shape = KIND_STYLES[kind]
        rows_end = []  # right edge of the last mark in each sub-row
        marks = []
        ordered = sorted(
            (event for event in events if event.kind == kind), key=lambda e: (e.start_date, e.pk)
        )
        for event in ordered:
            x0, cut_start = x_within(event.start_date)
            cut_end = None
            if event.date_precision == DatePrecision.DAY and event.end_date is None:
                left, right, mark_width, cx = x0 - MARK - 1, x0 + MARK + 1, 0, x0
            else:
                x1, cut_end = x_within(_day_after(event.period_end))
                mark_width = max(x1 - x0, 3)
                left, right, cx = x0, x0 + mark_width, x0
            clipped += bool(cut_start or cut_end)
            if cut_end:
                right += 7  # the arrowhead
            right += number_room
            for row, end in enumerate(rows_end):
                if left >= end + 3:
                    rows_end[row] = right
                    break
            else:
                row = len(rows_end)
                rows_end.append(right)
            marks.append(
                Mark(
                    event,
                    cx,
                    y + ROW / 2 + 2 + row * ROW,
                    mark_width,
                    colour,
                    shape,
                    bool(cut_start),
                    bool(cut_end),
                    row,
                )
            )
        for row in range(len(rows_end)):
            _label_row([mark for mark in marks if mark.row == row], GUTTER, width - 4, number_room)
        height = len(rows_end) * ROW + 4
        lanes.append(Lane(kind.label, colour, shape, y, height, marks))
        y += height + 6
    plot_bottom = y
    # Marks without room for a label are numbered in date order, for the key under the chart.
    numbered = sorted(
        (mark for lane in lanes for mark in lane.marks if not mark.label),
        key=lambda mark: (mark.event.start_date, mark.event.pk),
    )
    for number, mark in enumerate(numbered, 1):
        mark.number = number
    days, unit = _ticks(first, last)
    shown = [day for day in days if GUTTER <= x_of(day) <= width - RIGHT]
    ticks = [
        {"x": x_of(day), "label": label}
        for day, label in zip(shown, tick_labels(shown, unit), strict=True)
    ]
    return {
        "width": width,
        "height": plot_bottom + AXIS,
        "gutter": GUTTER,
        "right": width - RIGHT,
        "axis_y": plot_bottom,
        "tick_y": plot_bottom + 18,
        "label_x": GUTTER - 10,
        "ticks": ticks,
        "lanes": lanes,
        "legend": legend(lanes),
        "numbered": numbered,
        "labelled": sum(bool(mark.label) for lane in lanes for mark in lane.marks),
        "spans": any(mark.is_span for lane in lanes for mark in lane.marks),
        "clipped": clipped,
        "focused": bool(focus),
        "count": len(events),
        "first": first,
        "last": last,
    }


def _label_text(title, room):
    """`title`, shortened as little as needed (to `LABEL_MAX` characters and `LABEL_WIDTH` px
    at most) to fit `room` px; "" when not even `LABEL_MIN` characters would fit."""
    room = min(room, LABEL_WIDTH)
    if len(title) <= LABEL_MAX and text_width(title) <= room:
        return title
    for chars in range(min(len(title), LABEL_MAX), min(len(title), LABEL_MIN) - 1, -1):
        text = shorten(title, chars)
        if text_width(text) <= room:
            return text
    return ""


def _label_options(mark, free, following, number_room):
    """Where `mark` could carry its label, given the row taken up to `free` and the next
    mark's room starting at `following`: [(text, x, anchor, inside, free after it)], the
    number (no text) last; a span's label inside its bar first."""
    title = mark.event.title
    options = []
    if mark.is_span:
        text = _label_text(title, mark.width - 2 * LABEL_GAP)
        if text:
            options.append((text, mark.x + LABEL_GAP, "start", True, mark.right + LABEL_SPACE))
    text = _label_text(title, following - mark.right - LABEL_GAP)
    if text:
        end = mark.right + LABEL_GAP + text_width(text)
        options.append((text, mark.right + LABEL_GAP, "start", False, end + LABEL_SPACE))
    text = _label_text(title, mark.left - LABEL_GAP - free)
    if text:
        options.append((text, mark.left - LABEL_GAP, "end", False, mark.right + LABEL_SPACE))
    options.append(("", 0, "start", False, mark.right + number_room + LABEL_SPACE))
    return options


def _label_row(marks, start, end, number_room):
    """Label the marks of one sub-row, left to right, where there is room.

    A label goes inside a span's bar, after its mark or before it, never closer than
    `LABEL_SPACE` to another mark or label, nor outside `start`..`end`. Of its options a mark
    takes the one that, with the best the next mark can then do, labels the most marks with
    the longest text (on a tie: inside a bar, else after the mark, the usual reading). A mark
    left without a label keeps the room after it that the packing reserved (`number_room`)
    for the number it gets.
    """
    marks = sorted(marks, key=lambda mark: mark.left)
    bounds = [mark.left - LABEL_SPACE for mark in marks[1:]] + [end, end]

    def score(option):
        return (bool(option[0]), len(option[0]))

    free = start  # left of this, marks and labels already placed
    for index, mark in enumerate(marks):
        best, best_score = None, None
        for option in _label_options(mark, free, bounds[index], number_room):
            total = score(option)
            if index + 1 < len(marks):
                following = _label_options(marks[index + 1], option[4], bounds[index + 1], 0)
                ahead = max(score(other) for other in following)
                total = (total[0] + ahead[0], total[1] + ahead[1])
            if best_score is None or total > best_score:
                best, best_score = option, total
        text, mark.label_x, mark.label_anchor, mark.label_inside, free = best
        mark.label = text


def legend(lanes):
    """The colour and shape of each kind the timeline shows, for its legend."""
    return [
        {"label": lane.label, "colour": lane.colour, "geometry": shape_geometry(lane.shape, 8, 8)}
        for lane in lanes
    ]


def _side(event, role):
    """Names of the countries in `role`, as the involvement rule has them, or of the actors
    acting for none; a coalition with its size ("… (more than 20 countries)"); prefetched."""
    names = []
    for participation in event.participations.all():
        if participation.role != role:
            continue
        actor = participation.actor
        country = participation.acting_country()
        if country:
            name = country[1]
        elif actor.members_text:
            name = f"{actor.name} ({actor.members_text})"
        else:
            name = actor.name
        if name not in names:
            names.append(name)
    return names


def expelled_label(event):
    """The estimates in words (Event.expelled_display: "60", "more than 100", "60–80")."""
    return event.expelled_display or "number not known"


@dataclass
class ExpulsionRow:
    event: object
    initiators: list
    targets: list
    label: str
    part_of: object  # the wider expulsion this one belongs to, or None
    y: float = 0
    bar: float = 0
    more: bool = False

    @property
    def initiators_text(self):
        return ", ".join(self.initiators) or "not recorded"

    @property
    def targets_text(self):
        return ", ".join(self.targets) or "not recorded"

    @property
    def short_title(self):
        return shorten(self.event.title, 80)

    @property
    def initiators_short(self):
        return shorten(self.initiators_text, 30)

    @property
    def title_y(self):
        return self.y + 14

    @property
    def bar_y(self):
        return self.y + 22

    @property
    def label_y(self):
        return self.y + 36

    @property
    def bar_end(self):
        return BAR_LEFT + self.bar

    @property
    def arrow_points(self):
        """A open-ended tip after the bar: the number is a lower bound ("more than 100")."""
        x, y = self.bar_end, self.bar_y
        return f"{x:.1f},{y:.1f} {x + 14:.1f},{y + 9:.1f} {x:.1f},{y + 18:.1f}"

    @property
    def text_x(self):
        return self.bar_end + (22 if self.more else 8)


BAR_LEFT = 250
BAR_MAX = 360
EXPULSION_ROW = 50


def expulsions(events, parents=None):
    """Who expelled whom: one row per expulsion, initiators → bar sized by number → targets.

    `parents` maps an event id to the wider expulsion it is part of (from prefetched links),
    so that a reader does not add the United States' 60 to the "more than 100" it belongs to.
    """
    parents = parents or {}
    rows = [
        ExpulsionRow(
            event,
            _side(event, Role.INITIATOR),
            _side(event, Role.TARGET),
            expelled_label(event),
            parents.get(event.pk),
        )
        for event in sorted(
            (e for e in events if e.kind == EventKind.EXPULSION), key=lambda e: (e.start_date, e.pk)
        )
    ]
    if not rows:
        return None
    # A bar is as long as the best estimate, else the low one; with neither (a high alone,
    # or nothing) it is a stub.
    largest = max((row.event.expelled_figure or 0) for row in rows) or 1
    for index, row in enumerate(rows):
        row.y = TOP + index * EXPULSION_ROW
        row.bar = max(4, BAR_MAX * (row.event.expelled_figure or 0) / largest)
        # Drawn from a low estimate with nothing above it: a lower bound ("more than 100").
        row.more = (
            row.event.expelled_best is None
            and row.event.expelled_low is not None
            and row.event.expelled_high is None
        )
    return {
        "width": WIDTH,
        "height": TOP + len(rows) * EXPULSION_ROW + 4,
        "bar_left": BAR_LEFT,
        "rows": rows,
        "colour": KIND_STYLES[EventKind.EXPULSION][0],
    }


def part_of_parents(events):
    """Map event id → the event it is part of, from each event's prefetched `outgoing_links`."""
    return {
        event.pk: link.to_event
        for event in events
        for link in event.outgoing_links.all()
        if link.kind == "part_of"
    }


# --- Monthly series -----------------------------------------------------------------------

# Quad classes from cooperation (blues, green) to conflict (orange, red), each at least 3:1
# against white; segments are also parted by a white rule, and the table beside gives every
# number, so colour is never the only carrier.
QUAD_CLASS_COLOURS = {
    "1": "#0072b2",
    "2": "#009e73",
    "3": "#b35806",
    "4": "#c0392b",
    "none": "#777777",
}
SERIES_COLOUR = "#1f5aa6"  # one layer: the site's accent
SERIES_WIDTH = 560
SERIES_LEFT = 34  # count labels
SERIES_RIGHT = 8
SERIES_TOP = 10
SERIES_AXIS = 38  # month and year labels under the bars
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def month_label(month):
    """ "2018-03" as "March 2018"."""
    return datetime.date(int(month[:4]), int(month[5:7]), 1).strftime("%B %Y")


def _count_step(peak):
    """A whole-number step for the count axis giving at most four steps up to `peak`."""
    for scale in (1, 10, 100, 1000, 10_000, 100_000):
        for step in (1, 2, 5):
            if -(-peak // (step * scale)) <= 4:
                return step * scale
    return -(-peak // 4)


@dataclass
class SeriesBar:
    month: str
    x: float
    width: float
    total: int
    segments: list  # {"y", "height", "colour", "label", "count"} from the bottom up
    text: str  # "March 2018: 3 events (2 expulsions, 1 phone call)"


def series(months, layers, *, noun="event", width=SERIES_WIDTH, height=180):
    """Counts per month as bars, one per month, stacked by layer: `layers` is
    [(label, colour, [count per month])]. A month with nothing has no bar but keeps its place.

    Year labels stand where the year changes (and at the start); month initials too when the
    bars are wide enough to carry them. Geometry only: `events/_series.html` draws it.
    """
    if not months:
        return None
    # Stacked by kind or class: a legend and a column per layer present, even for one.
    stacked = len(layers) > 1
    layers = [layer for layer in layers if sum(layer[2])]
    totals = [sum(layer[2][index] for layer in layers) for index in range(len(months))]
    peak = max(totals, default=0)
    step = _count_step(max(peak, 1))
    top_value = step * -(-max(peak, 1) // step)
    plot_bottom = height - SERIES_AXIS
    plot_height = plot_bottom - SERIES_TOP
    plot_width = width - SERIES_LEFT - SERIES_RIGHT
    slot = plot_width / len(months)
    bar_width = min(slot * 0.8 if slot >= 4 else slot, 36)
    plural = noun + "s"

    bars = []
    for index, month in enumerate(months):
        x = SERIES_LEFT + index * slot + (slot - bar_width) / 2
        y, segments, parts = plot_bottom, [], []
        for label, colour, counts in layers:
            count = counts[index]
            if not count:
                continue
            segment_height = plot_height * count / top_value
            y -= segment_height
            segments.append(
                {"y": y, "height": segment_height, "colour": colour, "label": label, "count": count}
            )
            parts.append(f"{count} {label.lower()}")
        total = totals[index]
        text = f"{month_label(month)}: {total} {noun if total == 1 else plural}"
        if stacked and parts:
            text += f" ({', '.join(parts)})"
        bars.append(SeriesBar(month, x, bar_width, total, segments, text))

    # Year labels where the year changes, thinned so that they keep apart.
    years, last_x = [], None
    for index, month in enumerate(months):
        if index == 0 or month.endswith("-01"):
            x = SERIES_LEFT + index * slot
            labelled = last_x is None or x - last_x >= 36
            years.append({"x": x, "label": month[:4] if labelled else "", "start": index == 0})
            if labelled:
                last_x = x
    month_initials = slot >= 30
    ticks = [
        {
            "value": value,
            "y": plot_bottom - plot_height * value / top_value,
            "label_y": plot_bottom - plot_height * value / top_value + 4,
        }
        for value in range(0, top_value + 1, step)
    ]
    busiest = max(range(len(months)), key=lambda index: totals[index])
    return {
        "width": width,
        "height": height,
        "left": SERIES_LEFT,
        "label_x": SERIES_LEFT - 6,
        "year_tick_y": plot_bottom + 5,
        "right": width - SERIES_RIGHT,
        "top": SERIES_TOP,
        "axis_y": plot_bottom,
        "month_y": plot_bottom + 14,
        "year_y": plot_bottom + (30 if month_initials else 16),
        "bars": bars,
        "month_labels": [
            {"x": bar.x + bar.width / 2, "label": MONTH_NAMES[int(bar.month[5:7]) - 1]}
            for bar in bars
        ]
        if month_initials
        else [],
        "years": years,
        "ticks": ticks,
        "legend": [{"label": label, "colour": colour} for label, colour, _ in layers]
        if stacked
        else [],
        "first": month_label(months[0]),
        "last": month_label(months[-1]),
        "months": len(months),
        "total": sum(totals),
        "empty_months": totals.count(0),
        "busiest": {"month": month_label(months[busiest]), "count": totals[busiest]},
        "noun": noun,
        "plural": plural,
        # The same numbers for the table beside the chart: a row per month, zeros included.
        "columns": [label for label, _, _ in layers] if stacked else [],
        "column_totals": [sum(counts) for _, _, counts in layers] if stacked else [],
        "rows": [
            {
                "month": month,
                "label": month_label(month),
                "counts": [layer[2][index] for layer in layers] if stacked else [],
                "total": totals[index],
            }
            for index, month in enumerate(months)
        ],
        "outlined": bar_width >= 4,
        "bars_svg": bars_svg(bars, outlined=bar_width >= 4),
        "rows_html": rows_html(months, layers if stacked else [], totals),
    }


def rows_html(months, layers, totals):
    """The rows of the series' table (`events/_series_table.html`), a row per month, zeros
    included, as markup, for the reason `bars_svg` gives: months and counts, the month's name
    escaped."""
    return mark_safe(
        "".join(
            f'<tr data-month="{escape(month)}"><th scope="row"><time datetime="{escape(month)}" '
            f'title="{escape(month_label(month))}">{escape(month)}</time></th>'
            + "".join(f"<td>{layer[2][index]}</td>" for layer in layers)
            + f"<td>{totals[index]}</td></tr>"
            for index, month in enumerate(months)
        )
    )


def bars_svg(bars, *, outlined):
    """The bars of a series as SVG markup. Written here rather than looped over in the
    template: a bar per month over decades, four series on a dyad page, made the template loop
    most of a page's time (65 ms of the 5M listing's 210). Numbers and colours are computed
    above; the one text, the bar's title, is escaped."""
    stroke = ' stroke="#fff" stroke-width="0.75"' if outlined else ""
    return mark_safe(
        "".join(
            f'<g class="bar" data-month="{escape(bar.month)}" data-count="{bar.total}">'
            f"<title>{escape(bar.text)}</title>"
            + "".join(
                f'<rect x="{bar.x:.2f}" y="{segment["y"]:.2f}" width="{bar.width:.2f}" '
                f'height="{segment["height"]:.2f}" fill="{segment["colour"]}"{stroke}/>'
                for segment in bar.segments
            )
            + "</g>\n    "
            for bar in bars
        )
    )
