"""The timeline's marks carry their titles where there is room, and numbers with a key under
the chart where there is not (issue 15). The layout is checked on its own estimates here; the
browser test measures the drawn text."""

import datetime
import re
from dataclasses import dataclass

import pytest

from events import charts
from events.models import DatePrecision, EventKind
from events.models.events import period_end
from tests.factories import make_published_event

D = datetime.date


@dataclass
class Stub:
    """Just what the timeline reads of an event."""

    pk: int
    title: str
    start_date: datetime.date
    kind: str = EventKind.MEETING
    date_precision: str = DatePrecision.DAY
    end_date: datetime.date | None = None

    @property
    def period_end(self):
        return period_end(self.start_date, self.end_date, self.date_precision)


def stubs(*specs):
    """Stub events from (day, title) or (day, title, kind) or (day, title, kind, precision)."""
    return [Stub(pk, title, day, *rest) for pk, (day, title, *rest) in enumerate(specs, 1)]


def marks_of(drawn):
    return [mark for lane in drawn["lanes"] for mark in lane.marks]


def extents(drawn):
    """What each sub-row draws, as (lane, row) -> [(what, event pk, left, right)]."""
    digits = len(str(drawn["count"]))
    rows = {}
    for index, lane in enumerate(drawn["lanes"]):
        for mark in lane.marks:
            row = rows.setdefault((index, mark.row), [])
            row.append(("mark", mark.event.pk, mark.left, mark.right))
            if mark.label:
                row.append(("label", mark.event.pk, *mark.label_extent))
            else:
                right = mark.number_x + len(str(mark.number)) * charts.NUMBER_DIGIT
                assert len(str(mark.number)) <= digits
                row.append(("number", mark.event.pk, mark.number_x, right))
    return rows


def assert_nothing_overlaps(drawn):
    for row in extents(drawn).values():
        for index, (what, pk, left, right) in enumerate(row):
            if what != "mark":
                # Within the plot, clear of the lane names and of the chart's right edge.
                assert left >= charts.GUTTER and right <= drawn["width"] - 4, (what, pk)
            for other_what, other_pk, other_left, other_right in row[index + 1 :]:
                if pk == other_pk:
                    continue  # a mark and its own label or number (a label inside its bar)
                apart = right + 3 <= other_left or other_right + 3 <= left
                assert apart, (what, pk, other_what, other_pk)


def dense(count=30, days=20, kinds=(EventKind.EXPULSION, EventKind.STATEMENT)):
    """Marks too close for their titles, too far apart to need a sub-row each: every 20 days,
    two kinds taking turns, long titles; and a roomy mark before them."""
    specs = [(D(2016, 6, 1), "A quiet start", EventKind.STATEMENT)]
    for n in range(count):
        specs.append(
            (
                D(2017, 1, 1) + datetime.timedelta(days=days * n),
                f"Country {n} expels diplomats after the poisoning in Salisbury",
                kinds[n % len(kinds)],
            )
        )
    return stubs(*specs)


def test_a_lone_mark_carries_its_whole_title_beside_it():
    drawn = charts.timeline(
        stubs(
            (D(2018, 3, 4), "Poisoning of Sergei Skripal in Salisbury"),
            (D(2018, 9, 20), "Abe and Putin meet in Vladivostok", EventKind.SUMMIT),
        )
    )
    first, second = sorted(marks_of(drawn), key=lambda mark: mark.event.pk)
    assert first.label == "Poisoning of Sergei Skripal in Salisbury"
    assert (first.label_anchor, first.label_x) == ("start", first.right + charts.LABEL_GAP)
    # The last mark has no room after it, before the chart's right edge: its label goes before.
    assert second.label == "Abe and Putin meet in Vladivostok"
    assert (second.label_anchor, second.label_x) == ("end", second.left - charts.LABEL_GAP)
    assert drawn["numbered"] == [] and drawn["labelled"] == 2
    assert_nothing_overlaps(drawn)


def test_a_span_carries_its_label_inside_its_bar_when_it_fits():
    drawn = charts.timeline(
        stubs(
            (D(2016, 1, 1), "Sanctions over Ukraine", EventKind.SANCTION, DatePrecision.YEAR),
            (D(2016, 6, 1), "A day in June", EventKind.MEETING),
        ),
        whole=True,
    )
    span = next(mark for mark in marks_of(drawn) if mark.is_span)
    assert span.label == "Sanctions over Ukraine" and span.label_inside
    assert span.label_x == span.x + charts.LABEL_GAP
    assert span.label_extent[1] <= span.x + span.width - charts.LABEL_GAP


def test_crowded_marks_are_numbered_and_nothing_overlaps():
    drawn = charts.timeline(dense())
    marks = marks_of(drawn)
    labelled = [mark for mark in marks if mark.label]
    numbered = [mark for mark in marks if not mark.label]
    assert labelled and numbered
    assert all((mark.number is None) == bool(mark.label) for mark in marks)
    assert drawn["numbered"] == sorted(numbered, key=lambda m: (m.event.start_date, m.event.pk))
    assert drawn["labelled"] == len(labelled)
    # The roomy mark has its whole title.
    assert [m.label for m in marks if m.event.title == "A quiet start"] == ["A quiet start"]
    assert_nothing_overlaps(drawn)


def test_a_number_always_has_room_beside_its_mark():
    # Marks of one kind about 18 px apart: room for the next mark, not for a number between.
    drawn = charts.timeline(dense(30, days=11, kinds=[EventKind.EXPULSION]))
    assert len(drawn["numbered"]) >= 10
    assert_nothing_overlaps(drawn)


def test_numbers_run_in_date_order_across_the_kinds():
    drawn = charts.timeline(dense(40))
    numbered = drawn["numbered"]
    assert [mark.number for mark in numbered] == list(range(1, len(numbered) + 1))
    keys = [(mark.event.start_date, mark.event.pk) for mark in numbered]
    assert keys == sorted(keys)
    assert len({mark.event.kind for mark in numbered}) > 1  # one sequence, not one per lane


def test_a_label_is_shortened_to_its_room_and_never_below_the_minimum():
    title = "Coordinated expulsion of Russian diplomats by the United Kingdom's partners"
    room = charts.text_width(title[:30])
    text = charts._label_text(title, room)
    assert text.endswith("…") and charts.text_width(text) <= room
    assert title.startswith(text[:-1])
    longest = charts._label_text(title, 10_000)
    assert charts.text_width(longest) <= charts.LABEL_WIDTH < charts.text_width(title)
    assert len(longest) <= charts.LABEL_MAX and title.startswith(longest[:-1])
    assert charts._label_text(title, charts.text_width(title[:10])) == ""
    # A short title needs only its own width, however short.
    assert charts._label_text("G7", charts.text_width("G7")) == "G7"
    # Capitals and wide letters count for more than narrow ones.
    assert charts.text_width("MMMM") > charts.text_width("EEEE") > charts.text_width("eeee")
    assert charts.text_width("eeee") > charts.text_width("iiii")


@pytest.mark.django_db
def test_the_key_lists_each_number_with_its_date_and_a_link_and_titles_stay_text(client):
    script = "<script>alert(1)</script> & Co."
    # A roomy mark with a script in its title, and a crowd of which some will be numbered.
    make_published_event(title=script, slug="script-roomy", start_date=D(2017, 1, 10))
    for n in range(24):
        make_published_event(
            title=f"{script} {n} expels diplomats after the poisoning in Salisbury",
            slug=f"crowd-{n}",
            kind=[EventKind.EXPULSION, EventKind.STATEMENT][n % 2],
            start_date=D(2017, 3, 1) + datetime.timedelta(days=20 * n),
        )
    page = client.get("/events/").content.decode()
    assert "<script>alert" not in page
    svg = page[page.index('<svg class="timeline-svg"') : page.index("</svg>")]
    labels = re.findall(r'<text class="mark-label[^"]*"[^>]*>([^<]*)</text>', svg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co." in labels

    # Each numbered mark: its number drawn beside it, and the same number in the key under
    # the chart, with the event's date and a link to it; labelled marks are not in the key.
    numbered = re.findall(
        r'<a class="mark" href="([^"]+)" data-kind="[^"]+" data-number="(\d+)">'
        r'(?:(?!</a>).)*<text class="mark-number"[^>]*>(\d+)</text>',
        svg,
        re.S,
    )
    assert numbered and all(number == drawn for _, number, drawn in numbered)
    key = page[page.index('class="timeline-key"') :]
    key = key[: key.index("</ol>")]
    entries = re.findall(
        r'<li value="(\d+)"><span class="key-date">([^<]+)</span> <a href="([^"]+)">([^<]+)</a>',
        key,
    )
    assert [(href, number) for number, _, href, _ in entries] == sorted(
        ((href, number) for href, number, _ in numbered), key=lambda item: int(item[1])
    )
    assert [int(number) for number, *_ in entries] == list(range(1, len(entries) + 1))
    assert all(re.fullmatch(r"\d+ \w+ 201[78]", date) for _, date, _, _ in entries)
    assert all(title.startswith("&lt;script&gt;") for *_, title in entries)
    assert "/events/script-roomy/" not in key
    # Every mark is a link in the tab order: no tabindex takes it out.
    assert 'tabindex="-1"' not in svg
