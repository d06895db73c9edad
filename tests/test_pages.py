"""Tests for the two pages: the public file list and the statistics page.

Each test builds a download tree in a temporary folder, writes counts.json
itself, runs main() without any log file and reads the pages back with
html.parser into a small element tree.  Expected values come from the
fixtures built here, never from the program's output.
"""

import calendar
import html.parser
import json
import os
import re
import time
import unittest
import urllib.parse

from support import TreeTestCase, pinned_tz, run_main

#: A file name with every character that needs care in a URL or in HTML.
ODD_NAME = "a b#1%&'\"<x>.iso"
#: ODD_NAME percent-encoded by hand (RFC 3986: space, #, %, &, ', ", <, >).
ODD_HREF = "a%20b%231%25%26%27%22%3Cx%3E.iso"

VOID_ELEMENTS = frozenset((
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link",
    "meta", "source", "track", "wbr"))

NUMBER = re.compile(r"\d{1,3}(,\d{3})*\Z")
DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")
GENERATED = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def utc(year, month, day, hour=0, minute=0):
    return calendar.timegm((year, month, day, hour, minute, 0))


# --------------------------------------------------------------------------
# A minimal element tree from html.parser
# --------------------------------------------------------------------------

class Element:
    """One element of a parsed page: tag, attributes and children."""

    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.children = []
        self.parent = parent

    def classes(self):
        return set((self.attrs.get("class") or "").split())

    def iter(self, tag=None, cls=None):
        """Yield the descendants, in document order, that match."""
        for child in self.children:
            if isinstance(child, Element):
                if (tag is None or child.tag == tag) and (
                        cls is None or cls in child.classes()):
                    yield child
                yield from child.iter(tag, cls)

    def find_all(self, tag=None, cls=None):
        return list(self.iter(tag, cls))

    def find(self, tag=None, cls=None):
        return next(self.iter(tag, cls), None)

    def element_children(self, tag=None):
        return [child for child in self.children
                if isinstance(child, Element)
                and (tag is None or child.tag == tag)]

    def text(self):
        return "".join(child if isinstance(child, str) else child.text()
                       for child in self.children)

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class TreeBuilder(html.parser.HTMLParser):
    """Build an Element tree and record every nesting error."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", [], None)
        self.stack = [self.root]
        self.errors = []
        self.doctype = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(element)
        if tag not in VOID_ELEMENTS:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        # <line/> and <rect .../> in inline SVG.
        self.stack[-1].children.append(Element(tag, attrs, self.stack[-1]))

    def handle_endtag(self, tag):
        if tag in VOID_ELEMENTS:
            self.errors.append("end tag for void element <%s>" % tag)
            return
        if self.stack[-1].tag == tag:
            self.stack.pop()
            return
        self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1].tag))
        open_tags = [element.tag for element in self.stack]
        if tag in open_tags:
            del self.stack[len(open_tags) - 1 - open_tags[::-1].index(tag):]

    def handle_data(self, data):
        self.stack[-1].children.append(data)

    def close(self):
        super().close()
        for element in self.stack[1:]:
            self.errors.append("<%s> is never closed" % element.tag)


def parse(text):
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder


def read_page(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def make_file(path, size=0, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.truncate(size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


# --------------------------------------------------------------------------
# Checks shared by both pages
# --------------------------------------------------------------------------

class PageTestCase(TreeTestCase):
    """A tree test with helpers to run main() and read and check pages."""

    def write_counts(self, files, stats=None):
        stats = stats or self.stats
        os.makedirs(stats, exist_ok=True)
        document = {"schema": 2, "generated": "2026-10-13T01:00:00Z",
                    "files": files}
        with open(os.path.join(stats, "counts.json"), "w",
                  encoding="utf-8") as file:
            json.dump(document, file)

    def render(self, *extra, stats=None):
        """Run main() on the tree, assert silence, return both parsed pages."""
        code, out, err = run_main(self.base_args() + list(extra))
        self.assertEqual((code, out, err), (0, "", ""))
        self.public_text = read_page(os.path.join(self.root, "index.html"))
        self.stats_text = read_page(
            os.path.join(stats or self.stats, "index.html"))
        public = parse(self.public_text)
        private = parse(self.stats_text)
        return public, private

    def assert_valid_basics(self, builder, text):
        """Check the HTML5 basics every page must meet."""
        self.assertEqual(builder.errors, [], "elements must nest properly")
        self.assertIsNotNone(builder.doctype)
        self.assertEqual(builder.doctype.lower(), "doctype html")
        self.assertTrue(text.lstrip().lower().startswith("<!doctype html>"))

        document = builder.root
        html_element = document.find("html")
        self.assertIsNotNone(html_element)
        self.assertTrue(html_element.attrs.get("lang"), "<html> needs lang")
        head = html_element.find("head")
        self.assertIsNotNone(head)

        metas = head.find_all("meta")
        charsets = [meta.attrs["charset"] for meta in metas
                    if "charset" in meta.attrs]
        self.assertEqual([value.lower() for value in charsets], ["utf-8"])
        self.assertLess(text.lower().index("charset="), 1024,
                        "the charset must be declared in the first 1024"
                        " bytes")
        viewports = [meta.attrs.get("content", "") for meta in metas
                     if meta.attrs.get("name") == "viewport"]
        self.assertEqual(len(viewports), 1)
        self.assertIn("width=device-width", viewports[0])
        titles = head.find_all("title")
        self.assertEqual(len(titles), 1)
        self.assertTrue(titles[0].text().strip())
        self.assertEqual(len(document.find_all("h1")), 1)

        for table in document.find_all("table"):
            children = table.element_children()
            self.assertTrue(children, "empty table")
            self.assertEqual(children[0].tag, "caption",
                             "every table starts with a caption")
            self.assertTrue(children[0].text().strip())
            for cell in table.iter("th"):
                self.assertIn(cell.attrs.get("scope"), ("col", "row"),
                              "th without scope: %r" % cell.text())
            for row in table.find_all("tr"):
                self.assertTrue(row.find_all("td") or row.find_all("th"))

        ids = [element.attrs["id"] for element in document.iter()
               if "id" in element.attrs]
        self.assertEqual(len(ids), len(set(ids)), "duplicate id")

        self.assertEqual(document.find_all("script"), [], "no JavaScript")
        for element in document.iter():
            handlers = [name for name in element.attrs
                        if name.startswith("on")]
            self.assertEqual(handlers, [], "no event handler attributes")
        for link in document.find_all("a"):
            href = link.attrs.get("href")
            self.assertTrue(href, "a link without href")
            self.assertFalse(href.lower().startswith("javascript:"))

    def assert_style_basics(self, document):
        styles = document.find_all("style")
        self.assertEqual(len(styles), 1)
        style = styles[0].text()
        self.assertRegex(style.lstrip(), r"^:root\s*\{[^}]*--",
                         "the stylesheet starts with custom properties")
        self.assertRegex(style, r"@media\s*\(prefers-color-scheme:\s*dark\)")
        self.assertIn("system-ui", style)
        self.assertRegex(style, r"overflow-x:\s*auto")
        return style

    def assert_generated(self, document, before, after):
        """Check the footer names a UTC minute between before and after."""
        footer = document.find("footer")
        self.assertIsNotNone(footer)
        match = GENERATED.search(footer.text())
        self.assertIsNotNone(match, footer.text())
        stamp = calendar.timegm(time.strptime(match.group(1),
                                              "%Y-%m-%d %H:%M"))
        self.assertGreaterEqual(stamp, before - before % 60)
        self.assertLessEqual(stamp, after)


# --------------------------------------------------------------------------
# The public page
# --------------------------------------------------------------------------

def rows_of(section):
    """Return the body rows of the table in a public page section."""
    table = section.find("table")
    return table.find("tbody").find_all("tr")


def file_link(row):
    return row.find_all("td")[0].find("a")


def folder_of(href):
    return os.path.dirname(urllib.parse.unquote(href))


class PublicPageTest(PageTestCase):

    def build_tree(self):
        """Build a tree of images, checksums, links and things to skip."""
        root = self.root
        make_file(os.path.join(root, "top.iso"), 1536,
                  utc(2026, 10, 11, 2, 30))
        make_file(os.path.join(root, "top.iso.sha256"))
        make_file(os.path.join(root, "top.iso.md5"))
        make_file(os.path.join(root, ODD_NAME), (3 << 30) + (512 << 20),
                  utc(2026, 9, 1, 12))
        make_file(os.path.join(root, ODD_NAME + ".sha512"))
        make_file(os.path.join(root, "UPPER.ISO"), 10, utc(2026, 1, 2))
        make_file(os.path.join(root, "notes.txt"))

        for suffix in (".md5", ".sha1", ".sha256", ".sha512"):
            make_file(os.path.join(root, "releases", "2026.9",
                                   "lv-9.iso" + suffix))
        make_file(os.path.join(root, "releases", "2026.9", "lv-9.iso"),
                  2 << 20, utc(2026, 9, 3))
        make_file(os.path.join(root, "releases", "2026.9", "MD5SUMS"))
        make_file(os.path.join(root, "releases", "2026.10", "lv-10a.iso"),
                  100, utc(2026, 10, 1))
        make_file(os.path.join(root, "releases", "2026.10", "lv-10b.iso"),
                  100, utc(2026, 10, 5))
        make_file(os.path.join(root, "releases", "2026.10", "SHA256SUMS"))
        make_file(os.path.join(root, "releases", "2026.10",
                               "SHA256SUMS.gpg"))
        make_file(os.path.join(root, "releases", "2026.10", "SHA512SUMS"))
        make_file(os.path.join(root, "releases", "2025.12", "lv-12.iso"),
                  100, utc(2025, 12, 20))

        # Hidden files and folders, and the stats folder.
        make_file(os.path.join(root, ".hidden.iso"), 5)
        make_file(os.path.join(root, ".private", "secret.iso"), 5)
        make_file(os.path.join(root, "releases", ".staging", "next.iso"), 5)
        make_file(os.path.join(root, "releases", "2026.10", ".part.iso"), 5)
        make_file(os.path.join(self.stats, "in-stats.iso"), 5)

        # Symbolic links, a FIFO and a folder whose name ends with .iso.
        outside = os.path.join(self.tmp, "outside.iso")
        make_file(outside, 5)
        os.symlink(os.path.join("releases", "2026.9", "lv-9.iso"),
                   os.path.join(root, "link-inside.iso"))
        os.symlink(outside, os.path.join(root, "link-outside.iso"))
        os.symlink(outside, os.path.join(root, "top.iso.sha1"))
        os.symlink(os.path.join(root, "missing.iso"),
                   os.path.join(root, "dangling.iso"))
        os.symlink(os.path.join(root, "releases"),
                   os.path.join(root, "folder-link"))
        os.mkfifo(os.path.join(root, "fifo.iso"))
        make_file(os.path.join(root, "folder.iso", "inner.iso"), 7,
                  utc(2026, 2, 2))

    def sections(self, document):
        main = document.find("main")
        self.assertIsNotNone(main)
        return [section for section in main.find_all("section")
                if section.find("table") is not None]

    def rows_by_key(self, document):
        """Return {file key: row} over all sections, keys from the hrefs."""
        rows = {}
        for section in self.sections(document):
            for row in rows_of(section):
                key = urllib.parse.unquote(file_link(row).attrs["href"])
                self.assertNotIn(key, rows, "a file is listed twice")
                rows[key] = row
        return rows

    def test_valid_html(self):
        self.build_tree()
        self.render()
        builder = parse(self.public_text)
        self.assert_valid_basics(builder, self.public_text)
        self.assert_style_basics(builder.root)

    def test_listed_files(self):
        self.build_tree()
        public, _private = self.render()
        self.assertEqual(sorted(self.rows_by_key(public.root)), sorted([
            "top.iso", ODD_NAME, "UPPER.ISO", "link-inside.iso",
            "releases/2026.9/lv-9.iso", "releases/2026.10/lv-10a.iso",
            "releases/2026.10/lv-10b.iso", "releases/2025.12/lv-12.iso",
            "folder.iso/inner.iso"]))

    def test_skipped_names_absent(self):
        self.build_tree()
        public, _private = self.render()
        main = public.root.find("main")
        # The text of the listing and its links and tooltips, decoded.
        listing = [main.text()] + [
            urllib.parse.unquote(value) for element in main.iter()
            for name, value in element.attrs.items()
            if name in ("href", "title") and value]
        for word in ("hidden", "secret", "staging", "next.iso", "part.iso",
                     "in-stats", ".stats", "counts.json", "outside",
                     "dangling", "fifo", "folder-link", "notes.txt"):
            with self.subTest(word=word):
                self.assertFalse([text for text in listing if word in text])

    def test_every_link_resolves(self):
        self.build_tree()
        public, _private = self.render()
        links = public.root.find_all("a")
        self.assertGreater(len(links), 10)
        for link in links:
            href = link.attrs["href"]
            with self.subTest(href=href):
                self.assertEqual(urllib.parse.urlsplit(href).scheme, "")
                self.assertFalse(href.startswith("/"))
                self.assertNotRegex(href, r"[ #\"'<>&]",
                                    "characters that must be encoded")
                path = os.path.join(self.root, urllib.parse.unquote(href))
                self.assertTrue(os.path.isfile(path))
                real = os.path.realpath(path)
                self.assertTrue(real.startswith(
                    os.path.realpath(self.root) + os.sep))

    def test_odd_name_link_and_text(self):
        self.build_tree()
        public, _private = self.render()
        row = self.rows_by_key(public.root)[ODD_NAME]
        link = file_link(row)
        self.assertEqual(link.attrs["href"], ODD_HREF)
        self.assertEqual(link.text(), ODD_NAME)
        self.assertNotIn("<x>", self.public_text)
        self.assertIn("&lt;x&gt;", self.public_text)
        checksum_hrefs = [a.attrs["href"] for a in row.find_all("a")[1:]]
        self.assertEqual(checksum_hrefs, [ODD_HREF + ".sha512"])

    def test_size_and_date_cells(self):
        self.build_tree()
        with pinned_tz("PST8PDT"):
            public, _private = self.render()
        rows = self.rows_by_key(public.root)
        # 02:30 UTC on 2026-10-11 is still 2026-10-10 in California.
        cases = [("top.iso", 1536, "1.5 KiB", "2026-10-11"),
                 (ODD_NAME, 3758096384, "3.5 GiB", "2026-09-01"),
                 ("UPPER.ISO", 10, "10 B", "2026-01-02"),
                 ("link-inside.iso", 2097152, "2.0 MiB", "2026-09-03")]
        for key, size, size_text, date in cases:
            with self.subTest(key=key):
                cells = rows[key].find_all("td")
                size_cells = [cell for cell in cells
                              if cell.text().strip() == size_text]
                self.assertEqual(len(size_cells), 1, [c.text() for c in cells])
                title = size_cells[0].attrs.get("title", "")
                self.assertEqual(re.sub(r"\D", "", title), str(size))
                dates = [cell.text().strip() for cell in cells
                         if DATE.match(cell.text().strip())]
                self.assertEqual(dates, [date])

    def test_checksum_links(self):
        self.build_tree()
        public, _private = self.render()
        rows = self.rows_by_key(public.root)
        cases = [
            ("top.iso", {"top.iso.sha256", "top.iso.md5"}),
            ("releases/2026.9/lv-9.iso",
             {"releases/2026.9/lv-9.iso" + suffix
              for suffix in (".md5", ".sha1", ".sha256", ".sha512")}),
            ("releases/2026.10/lv-10a.iso", set()),
            ("link-inside.iso", set()),
        ]
        for key, expected in cases:
            with self.subTest(key=key):
                links = rows[key].find_all("a")[1:]
                self.assertEqual({a.attrs["href"] for a in links}, expected)
                for link in links:
                    algorithm = link.attrs["href"].rpartition(".")[2]
                    self.assertIn(algorithm, link.text().lower())

    def test_folder_checksum_links(self):
        self.build_tree()
        public, _private = self.render()
        found = {}
        for section in self.sections(public.root):
            folder = folder_of(file_link(rows_of(section)[0]).attrs["href"])
            table = section.find("table")
            found[folder] = {
                link.attrs["href"] for link in section.find_all("a")
                if table not in link.ancestors()}
            with self.subTest(folder=folder):
                heading = section.find("h2")
                self.assertIsNotNone(heading)
                if folder:
                    self.assertIn(folder, heading.text())
        self.assertEqual(found, {
            "": set(),
            "folder.iso": set(),
            "releases/2026.9": {"releases/2026.9/MD5SUMS"},
            "releases/2026.10": {"releases/2026.10/SHA256SUMS",
                                 "releases/2026.10/SHA256SUMS.gpg",
                                 "releases/2026.10/SHA512SUMS"},
            "releases/2025.12": set(),
        })

    def test_folder_order(self):
        self.build_tree()
        public, _private = self.render()
        order = [folder_of(file_link(rows_of(section)[0]).attrs["href"])
                 for section in self.sections(public.root)]
        self.assertEqual(order[0], "", "the root comes first")
        releases = [folder for folder in order
                    if folder.startswith("releases/")]
        # Version order: 2026.10 is newer than 2026.9, which a plain string
        # sort would put first.
        self.assertEqual(releases, ["releases/2026.10", "releases/2026.9",
                                    "releases/2025.12"])
        self.assertEqual(sorted(order), sorted(set(order)),
                         "one section per folder")

    def test_newest_upload_first(self):
        self.build_tree()
        public, _private = self.render()
        by_folder = {}
        for section in self.sections(public.root):
            keys = [urllib.parse.unquote(file_link(row).attrs["href"])
                    for row in rows_of(section)]
            by_folder[folder_of(keys[0])] = keys
        self.assertEqual(by_folder["releases/2026.10"],
                         ["releases/2026.10/lv-10b.iso",
                          "releases/2026.10/lv-10a.iso"])
        # Root mtimes: top.iso 2026-10-11, the odd name 2026-09-01, the link
        # follows lv-9.iso (2026-09-03), UPPER.ISO 2026-01-02.
        self.assertEqual(by_folder[""], [
            "top.iso", "link-inside.iso", ODD_NAME, "UPPER.ISO"])

    def test_no_download_counts(self):
        self.build_tree()
        self.write_counts({
            "top.iso": {"days": {"2026-10-11": 7919},
                        "months": {"2026-10": 7919}}})
        self.render()
        self.assertNotIn("7919", self.public_text)
        self.assertNotIn("7,919", self.public_text)

    def test_generated_time_utc(self):
        self.build_tree()
        before = time.time()
        with pinned_tz("PST8PDT"):
            public, private = self.render()
        after = time.time()
        self.assert_generated(public.root, before, after)
        self.assert_generated(private.root, before, after)

    def test_empty_root_note(self):
        make_file(os.path.join(self.root, "notes.txt"))
        make_file(os.path.join(self.root, ".hidden.iso"), 5)
        public, _private = self.render()
        self.assert_valid_basics(public, self.public_text)
        main = public.root.find("main")
        self.assertIsNotNone(main)
        self.assertEqual(main.find_all("table"), [])
        self.assertEqual(main.find_all("a"), [])
        self.assertRegex(" ".join(main.text().split()),
                         r"(?i)\bno\b.*\byet\b")

    def test_stats_dir_any_name(self):
        make_file(os.path.join(self.root, "pub", "real.iso"), 5,
                  utc(2026, 3, 3))
        stats = os.path.join(self.root, "pub", "stats")
        make_file(os.path.join(stats, "trap.iso"), 5)
        make_file(os.path.join(stats, "sub", "trap-2.iso"), 5)
        public, _private = self.render("--stats-dir", stats, stats=stats)
        self.assertEqual(list(self.rows_by_key(public.root)),
                         ["pub/real.iso"])
        self.assertNotIn("trap", self.public_text)

    def test_undecodable_name(self):
        raw = os.path.join(os.fsencode(self.root), b"caf\xe9.iso")
        try:
            make_file(raw, 3, utc(2026, 5, 5))
        except OSError:
            self.skipTest("the file system rejects names that are not UTF-8")
        public, _private = self.render()
        links = public.root.find_all("a")
        self.assertEqual([link.attrs["href"] for link in links],
                         ["caf%E9.iso"])
        self.assertNotIn("\udce9", self.public_text)
        self.assertTrue(links[0].text().startswith("caf"))


# --------------------------------------------------------------------------
# The statistics page
# --------------------------------------------------------------------------

#: counts.json files of the statistics tests.  "old-1.iso" is not on disk.
HISTORY = {
    "top.iso": {
        "days": {"2026-10-11": 30, "2026-10-12": 4},
        "months": {"2026-08": 1200, "2026-10": 34}},
    "releases/2026.10/lv-10a.iso": {
        "days": {},
        "months": {"2026-09": 5, "2026-10": 1000000}},
    "gone/old-1.iso": {
        "days": {},
        "months": {"2025-12": 7}},
    ODD_NAME: {
        "days": {"2026-10-12": 2},
        "months": {"2026-10": 2}},
}
#: Every month from the first to the last in HISTORY, newest first.
MONTHS = ["2026-10", "2026-09", "2026-08", "2026-07", "2026-06", "2026-05",
          "2026-04", "2026-03", "2026-02", "2026-01", "2025-12"]


def grouped_number(text):
    """Return the int of "1,234,567", or fail if it is not grouped so."""
    text = text.strip()
    if not NUMBER.match(text):
        raise AssertionError("not a grouped number: %r" % text)
    return int(text.replace(",", ""))


def cell_number(cell):
    return grouped_number(cell.text())


class StatsPageTest(PageTestCase):

    def setUp(self):
        super().setUp()
        make_file(os.path.join(self.root, "top.iso"), 10)
        make_file(os.path.join(self.root, ODD_NAME), 10)
        make_file(os.path.join(self.root, "releases", "2026.10",
                               "lv-10a.iso"), 10)
        self.write_counts(HISTORY)

    def table(self, document):
        tables = document.find("main").find_all("table")
        self.assertEqual(len(tables), 1)
        return tables[0]

    def header(self, table):
        """Return the column headers of the table's head."""
        rows = table.find("thead").find_all("tr")
        self.assertEqual(len(rows), 1)
        return [cell.text().strip() for cell in rows[0].find_all("th")]

    def body_rows(self, table):
        """Return {row header text: [numbers]} of the table body."""
        rows = {}
        for row in table.find("tbody").find_all("tr"):
            heads = row.find_all("th")
            self.assertEqual(len(heads), 1)
            self.assertEqual(heads[0].attrs.get("scope"), "row")
            rows[heads[0].text().strip()] = [
                cell_number(cell) for cell in row.find_all("td")]
        return rows

    def row_for(self, rows, key):
        """Return (numbers, text after the key) of the row of key."""
        matches = [name for name in rows if name.startswith(key)]
        self.assertEqual(len(matches), 1, (key, list(rows)))
        return rows[matches[0]], matches[0][len(key):].strip()

    def test_valid_html(self):
        _public, _private = self.render()
        builder = parse(self.stats_text)
        self.assert_valid_basics(builder, self.stats_text)
        self.assert_style_basics(builder.root)

    def test_noindex(self):
        _public, private = self.render()
        robots = [meta.attrs.get("content", "")
                  for meta in private.root.find("head").find_all("meta")
                  if meta.attrs.get("name") == "robots"]
        self.assertEqual(len(robots), 1)
        tokens = [token.strip() for token in robots[0].split(",")]
        self.assertIn("noindex", tokens)

    def test_month_columns(self):
        _public, private = self.render()
        header = self.header(self.table(private.root))
        self.assertEqual(len(header), 2 + len(MONTHS))
        self.assertEqual(header[1].lower(), "total")
        self.assertEqual(header[2:], MONTHS)

    def test_row_per_file(self):
        _public, private = self.render()
        rows = self.body_rows(self.table(private.root))
        self.assertEqual(len(rows), len(HISTORY))
        for key in HISTORY:
            with self.subTest(key=key):
                self.row_for(rows, key)

    def test_month_cells_and_row_totals(self):
        _public, private = self.render()
        rows = self.body_rows(self.table(private.root))
        for key, entry in HISTORY.items():
            with self.subTest(key=key):
                numbers, _rest = self.row_for(rows, key)
                expected_months = [entry["months"].get(month, 0)
                                   for month in MONTHS]
                self.assertEqual(numbers[1:], expected_months)
                self.assertEqual(numbers[0], sum(entry["months"].values()))

    def test_month_and_grand_totals(self):
        _public, private = self.render()
        table = self.table(private.root)
        foot = table.find("tfoot")
        self.assertIsNotNone(foot)
        rows = foot.find_all("tr")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0].find("th").attrs.get("scope"), "row")
        numbers = [cell_number(cell) for cell in rows[0].find_all("td")]
        month_totals = [sum(entry["months"].get(month, 0)
                            for entry in HISTORY.values())
                        for month in MONTHS]
        grand_total = sum(count for entry in HISTORY.values()
                          for count in entry["months"].values())
        # Worked out by hand: 1,234 + 1,000,005 + 7 + 2.
        self.assertEqual(grand_total, 1001248)
        self.assertEqual(numbers, [grand_total] + month_totals)
        table_text = " ".join(self.stats_text.split())
        self.assertIn("1,001,248", table_text)

    def test_numbers_right_aligned(self):
        _public, private = self.render()
        style = private.root.find("style").text()
        table = self.table(private.root)
        cells = table.find_all("td")
        self.assertTrue(cells)
        for cell in cells:
            aligned = [name for name in cell.classes() if re.search(
                r"\.%s\s*\{[^}]*text-align:\s*right" % re.escape(name),
                style)]
            self.assertTrue(aligned, "cell %r is not right-aligned"
                            % cell.text())

    def test_removed_marker(self):
        _public, private = self.render()
        rows = self.body_rows(self.table(private.root))
        for key in HISTORY:
            with self.subTest(key=key):
                _numbers, rest = self.row_for(rows, key)
                if key == "gone/old-1.iso":
                    self.assertIn("removed", rest.lower())
                else:
                    self.assertEqual(rest, "")

    def test_odd_name_escaped(self):
        _public, private = self.render()
        rows = self.body_rows(self.table(private.root))
        self.row_for(rows, ODD_NAME)
        self.assertNotIn("<x>", self.stats_text)
        self.assertIn("&lt;x&gt;", self.stats_text)

    def chart_bars(self, svg):
        """Return {bar name: (value, height)} from the bar tooltips."""
        bars = {}
        for rect in svg.find_all("rect"):
            title = rect.find("title")
            self.assertIsNotNone(title, "a bar without a tooltip")
            name, _colon, value = title.text().rpartition(": ")
            bars[name] = (grouped_number(value),
                          float(rect.attrs["height"]))
        return bars

    def test_month_chart(self):
        _public, private = self.render()
        charts = private.root.find("main").find_all("svg")
        self.assertEqual(len(charts), 2)
        for chart in charts:
            self.assertEqual(chart.attrs.get("role"), "img")
            self.assertTrue(chart.attrs.get("aria-label"))
        bars = self.chart_bars(charts[0])
        expected = {month: sum(entry["months"].get(month, 0)
                               for entry in HISTORY.values())
                    for month in MONTHS}
        self.assertEqual({name: value for name, (value, _height)
                          in bars.items()}, expected)
        tallest = max(bars.values(), key=lambda bar: bar[1])
        self.assertEqual(tallest[0], max(expected.values()))
        self.assertEqual(bars["2026-07"][1], 0)
        self.assertGreater(bars["2025-12"][1], 0,
                           "a small count still draws a bar")

    def test_day_chart(self):
        _public, private = self.render()
        charts = private.root.find("main").find_all("svg")
        bars = self.chart_bars(charts[1])
        # The 30 days up to the last stored day, 2026-10-12.
        expected = {"2026-09-%02d" % day: 0 for day in range(13, 31)}
        expected.update({"2026-10-%02d" % day: 0 for day in range(1, 13)})
        expected["2026-10-11"] = 30
        expected["2026-10-12"] = 4 + 2
        self.assertEqual(len(expected), 30)
        self.assertEqual({name: value for name, (value, _height)
                          in bars.items()}, expected)

    def test_definition_and_period(self):
        _public, private = self.render()
        text = " ".join(private.root.find("body").text().split())
        self.assertIn("GET or HEAD", text)
        self.assertIn("206", text)
        self.assertIn("once per file per UTC day", text)
        header = " ".join(private.root.find("header").text().split())
        self.assertIn("2025-12", header)
        self.assertIn("2026-10", header)
        self.assertIn("2026-10-12", header, "the last day with a count")

    def test_empty_history(self):
        self.write_counts({})
        _public, private = self.render()
        self.assert_valid_basics(private, self.stats_text)
        self.assertEqual(private.root.find_all("table"), [])
        self.assertEqual(private.root.find_all("svg"), [])


# --------------------------------------------------------------------------
# --templates
# --------------------------------------------------------------------------

CUSTOM_PUBLIC = """\
<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mirror: $title</title>
<style>$style</style>
</head>
<body>
<h1 id="custom">Our mirror</h1>
<p id="count">$image_count, $total_size</p>
<main>$groups</main>
<p>Donate $$5.</p>
<footer>$generated</footer>
</body>
</html>
"""

CUSTOM_STYLE = ":root { --text: #123456; }\n"


class TemplatesTest(PageTestCase):

    def setUp(self):
        super().setUp()
        make_file(os.path.join(self.root, "one.iso"), 2048, utc(2026, 1, 1))
        self.templates = os.path.join(self.tmp, "templates")
        os.mkdir(self.templates)

    def write_template(self, name, text):
        with open(os.path.join(self.templates, name), "w",
                  encoding="utf-8") as file:
            file.write(text)

    def test_custom_public_and_style(self):
        self.write_template("public.html", CUSTOM_PUBLIC)
        self.write_template("style.css", CUSTOM_STYLE)
        public, private = self.render("--templates", self.templates)
        self.assert_valid_basics(public, self.public_text)
        self.assertEqual(public.root.find("html").attrs["lang"], "de")
        self.assertEqual(public.root.find("h1").text(), "Our mirror")
        self.assertIn("Donate $5.", self.public_text)
        self.assertIn("#123456", public.root.find("style").text())
        links = public.root.find("main").find_all("a")
        self.assertEqual([link.attrs["href"] for link in links], ["one.iso"])
        count = [element for element in public.root.iter("p")
                 if element.attrs.get("id") == "count"]
        self.assertEqual(count[0].text(), "1 image, 2.0 KiB")
        # stats.html is not in the folder: the built-in one is used, with
        # the custom stylesheet.
        self.assert_valid_basics(private, self.stats_text)
        self.assertIn("#123456", private.root.find("style").text())
        self.assertIn("noindex", self.stats_text)

    def test_invalid_templates(self):
        cases = [
            ("public.html", "<p>$nonsense</p>", "nonsense"),
            ("stats.html", "<p>${nope}</p>", "nope"),
            ("public.html", "<p>costs 5$ only</p>", "$$"),
        ]
        for name, text, mentioned in cases:
            with self.subTest(name=name, text=text):
                for old in os.listdir(self.templates):
                    os.remove(os.path.join(self.templates, old))
                self.write_template(name, text)
                code, out, err = run_main(
                    self.base_args() + ["--templates", self.templates])
                self.assertEqual(code, 1)
                self.assertEqual(out, "")
                lines = err.splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertTrue(lines[0].startswith(
                    "download_stats: error: "), lines[0])
                self.assertIn(name, lines[0])
                self.assertIn(mentioned, lines[0])
                self.assertFalse(os.path.exists(
                    os.path.join(self.root, "index.html")))

    def test_missing_templates_folder(self):
        missing = os.path.join(self.tmp, "no-such-folder")
        code, out, err = run_main(self.base_args() + ["--templates", missing])
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("download_stats: error: "))
        self.assertIn(missing, lines[0])


if __name__ == "__main__":
    unittest.main()
