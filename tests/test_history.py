"""Tests for counts.json: merging, legacy files, invalid files, rotation."""

import datetime
import gzip
import json
import os
import random
import shutil
import tempfile
import unittest

from support import (TreeTestCase, apache_time, day_counts, log_line,
                     month_counts, run_main, write_log)


def write_counts(stats_dir, data):
    """Write data to counts.json: bytes as given, anything else as JSON."""
    os.makedirs(stats_dir, exist_ok=True)
    if not isinstance(data, bytes):
        data = json.dumps(data).encode("utf-8")
    with open(os.path.join(stats_dir, "counts.json"), "wb") as file:
        file.write(data)


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


def downloads(key, day, clients):
    """Return log lines for `clients` distinct clients fetching key on day."""
    date = datetime.date.fromisoformat(day)
    time = apache_time(date.year, date.month, date.day, hour=9)
    return [log_line(ip="192.0.2.%d" % (i + 1), target="/" + key, time=time)
            for i in range(clients)]


class MergeTest(TreeTestCase):

    def test_schema2_merge(self):
        write_counts(self.stats, {
            "schema": 2, "generated": "2026-05-21T01:00:00Z",
            "files": {
                "a.iso": {"days": {"2026-05-20": 31, "2026-05-21": 2},
                          "months": {"2026-05": 33}},
                "b.iso": {"days": {"2026-05-20": 1},
                          "months": {"2026-05": 50}},
            }})
        write_log(self.log_path(),
                  downloads("a.iso", "2026-05-20", 5)
                  + downloads("a.iso", "2026-05-21", 4)
                  + downloads("a.iso", "2026-05-22", 3)
                  + downloads("b.iso", "2026-05-22", 2)
                  + downloads("c.iso", "2026-06-01", 1))
        counts = self.run_ok()
        self.assertEqual(day_counts(counts), {
            "a.iso": {"2026-05-20": 31, "2026-05-21": 4, "2026-05-22": 3},
            "b.iso": {"2026-05-20": 1, "2026-05-22": 2},
            "c.iso": {"2026-06-01": 1},
        })
        # month = max(old month, sum of stored days): 31+4+3, max(50, 3), 1.
        self.assertEqual(month_counts(counts), {
            "a.iso": {"2026-05": 38},
            "b.iso": {"2026-05": 50},
            "c.iso": {"2026-06": 1},
        })

    def test_rerun_same_logs_unchanged(self):
        write_log(self.log_path(), downloads("a.iso", "2026-05-20", 3))
        write_log(self.log_path("access.log.1"),
                  downloads("a.iso", "2026-05-19", 2)
                  + downloads("b.iso", "2026-05-19", 1))
        expected = {
            "a.iso": {"days": {"2026-05-19": 2, "2026-05-20": 3},
                      "months": {"2026-05": 5}},
            "b.iso": {"days": {"2026-05-19": 1}, "months": {"2026-05": 1}},
        }
        for run in range(1, 4):
            with self.subTest(run=run):
                self.assertEqual(self.run_ok()["files"], expected)

    def test_previous_version_kept_as_bak(self):
        write_log(self.log_path(), downloads("a.iso", "2026-05-20", 1))
        self.run_ok()
        counts_path = os.path.join(self.stats, "counts.json")
        first = read_bytes(counts_path)
        write_log(self.log_path(), downloads("a.iso", "2026-05-21", 1))
        self.run_ok()
        self.assertEqual(read_bytes(counts_path + ".bak"), first)

    def test_counts_file_layout(self):
        write_log(self.log_path(), downloads("b.iso", "2026-05-20", 1)
                  + downloads("a.iso", "2026-05-21", 1))
        counts = self.run_ok()
        text = read_bytes(os.path.join(self.stats, "counts.json")).decode()
        expected = json.dumps(counts, sort_keys=True, indent=2)
        self.assertEqual(text.rstrip("\n"), expected)
        self.assertEqual(counts["schema"], 2)
        self.assertRegex(counts["generated"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_no_temp_files_left(self):
        write_log(self.log_path(), downloads("a.iso", "2026-05-20", 1))
        self.run_ok()
        self.run_ok()
        hidden = [name for name in os.listdir(self.stats)
                  if name.startswith(".")]
        self.assertEqual(hidden, [])
        self.assertEqual([name for name in os.listdir(self.root)
                          if name.startswith(".")], [".stats"])


class LegacyTest(TreeTestCase):

    LEGACY = {"a.iso": {"2026-04": 7, "2026-05": 40},
              "d/b.iso": {"2026-05": 2}}

    def test_legacy_read_as_months(self):
        write_counts(self.stats, self.LEGACY)
        write_log(self.log_path(), [])
        counts = self.run_ok()
        self.assertEqual(counts["schema"], 2)
        self.assertEqual(month_counts(counts), self.LEGACY)
        self.assertEqual(day_counts(counts), {"a.iso": {}, "d/b.iso": {}})

    def test_legacy_kept_as_bak(self):
        original = json.dumps(self.LEGACY).encode()
        write_counts(self.stats, original)
        write_log(self.log_path(), [])
        self.run_ok()
        path = os.path.join(self.stats, "counts.json.bak")
        self.assertEqual(read_bytes(path), original)

    def test_legacy_merge_with_days(self):
        write_counts(self.stats, self.LEGACY)
        write_log(self.log_path(),
                  downloads("a.iso", "2026-05-20", 3)
                  + downloads("a.iso", "2026-06-01", 2)
                  + downloads("d/b.iso", "2026-05-30", 3))
        counts = self.run_ok()
        self.assertEqual(month_counts(counts), {
            "a.iso": {"2026-04": 7, "2026-05": 40, "2026-06": 2},
            "d/b.iso": {"2026-05": 3},
        })
        self.assertEqual(day_counts(counts), {
            "a.iso": {"2026-05-20": 3, "2026-06-01": 2},
            "d/b.iso": {"2026-05-30": 3},
        })

    def test_legacy_rerun_stable(self):
        write_counts(self.stats, self.LEGACY)
        write_log(self.log_path(), downloads("a.iso", "2026-05-20", 3))
        first = self.run_ok()["files"]
        second = self.run_ok()["files"]
        self.assertEqual(second, first)


class ResetTest(TreeTestCase):

    def test_empty_history_forms(self):
        for data in (b"{}", b"{}\n", b""):
            with self.subTest(data=data):
                write_counts(self.stats, data)
                write_log(self.log_path(), downloads("a.iso", "2026-05-20", 2))
                self.assertEqual(day_counts(self.run_ok()),
                                 {"a.iso": {"2026-05-20": 2}})

    def test_reset_drops_history(self):
        write_counts(self.stats, {
            "schema": 2,
            "files": {"old.iso": {"days": {"2026-01-01": 9},
                                  "months": {"2026-01": 9}}}})
        write_log(self.log_path(), downloads("a.iso", "2026-05-20", 1))
        self.run_ok()
        write_counts(self.stats, b"{}")
        counts = self.run_ok()
        self.assertEqual(month_counts(counts), {"a.iso": {"2026-05": 1}})

    def test_missing_counts_file(self):
        write_log(self.log_path(), downloads("a.iso", "2026-05-20", 1))
        counts = self.run_ok()
        self.assertEqual(month_counts(counts), {"a.iso": {"2026-05": 1}})


class InvalidCountsTest(TreeTestCase):

    def entry(self, days=None, months=None):
        return json.dumps({"schema": 2, "files": {"a.iso": {
            "days": days or {}, "months": months or {}}}}).encode()

    def rows(self):
        return [
            ("not JSON", b'{"files": '),
            ("not UTF-8", b'{"\xff": {"2026-05": 1}}'),
            ("list", b"[]"),
            ("string", b'"counts"'),
            ("number", b"3"),
            ("null", b"null"),
            ("unknown schema", b'{"schema": 3, "files": {}}'),
            ("files a list", b'{"schema": 2, "files": []}'),
            ("entry a number", json.dumps(
                {"schema": 2, "files": {"a.iso": 5}}).encode()),
            ("negative day", self.entry(days={"2026-05-20": -1})),
            ("negative month", self.entry(months={"2026-05": -1})),
            ("float", self.entry(days={"2026-05-20": 2.5})),
            ("bool", self.entry(months={"2026-05": True})),
            ("string count", self.entry(days={"2026-05-20": "3"})),
            ("null count", self.entry(months={"2026-05": None})),
            ("month 13", self.entry(months={"2026-13": 1})),
            ("month 00", self.entry(months={"2026-00": 1})),
            ("day 30 Feb", self.entry(days={"2026-02-30": 1})),
            ("day 29 Feb 2026", self.entry(days={"2026-02-29": 1})),
            ("legacy negative", b'{"a.iso": {"2026-05": -4}}'),
            ("legacy bool", b'{"a.iso": {"2026-05": false}}'),
            ("legacy month 13", b'{"a.iso": {"2026-13": 4}}'),
            # json.loads would keep only the last of two equal keys.
            ("duplicate month", b'{"a.iso": {"2026-05": 40, "2026-05": 1}}'),
            ("duplicate file", b'{"schema": 2, "files": {"a.iso": {},'
                               b' "a.iso": {}}}'),
        ]

    def test_invalid_counts_untouched(self):
        for label, data in self.rows():
            # A fresh tree per row, so a row that wrongly succeeds leaves
            # no pages or backups behind for the next row.
            base = tempfile.mkdtemp(dir=self.tmp)
            logs = os.path.join(base, "logs")
            root = os.path.join(base, "root")
            stats = os.path.join(root, ".stats")
            os.makedirs(logs)
            write_log(os.path.join(logs, "access.log"),
                      downloads("a.iso", "2026-05-20", 1))
            write_counts(stats, data)
            argv = ["--logs", os.path.join(logs, "access.log*"),
                    "--root", root, "--jobs", "1"]
            with self.subTest(label):
                code, out, err = run_main(argv)
                self.assertEqual(code, 1)
                self.assertEqual(out, "")
                lines = err.splitlines()
                self.assertEqual(len(lines), 1)
                self.assertTrue(lines[0].startswith("download_stats: error: "))
                self.assertIn("counts.json", lines[0])
                self.assertEqual(
                    read_bytes(os.path.join(stats, "counts.json")), data)
                written = set(os.listdir(stats)) - {"counts.json.lock"}
                self.assertEqual(written, {"counts.json"})
                self.assertEqual(os.listdir(root), [".stats"])


# Simulated server: names and targets that map to them, worked out by hand.
TARGETS = [
    ("/releases/a.iso", "releases/a.iso"),
    ("/releases//a.iso?mirror=2", "releases/a.iso"),
    ("/releases/%61.iso", "releases/a.iso"),
    ("/releases/./b.iso", "releases/b.iso"),
    ("http://downloads.example.org/releases/b.iso", "releases/b.iso"),
    ("/c.iso", "c.iso"),
    ("/C.ISO", "C.ISO"),
    ("/caf%C3%A9.iso", "caf\u00e9.iso"),
    ("/releases/a.iso.sha256", None),
    ("/notes.txt", None),
    ("/../c.iso", None),
]
CLIENTS = (["192.0.2.%d" % i for i in range(1, 21)]
           + ["2001:db8::%x" % i for i in range(1, 11)])
METHODS = ["GET", "GET", "GET", "GET", "HEAD", "POST"]
STATUSES = [200, 200, 206, 206, 206, 304, 404, 416]
OFFSETS = [0, -7 * 60, 5 * 60 + 30, 60, -60, 14 * 60]
FORMATS = ["common", "combined", "vhost_combined"]
KEEP = 14


def format_time(utc, offset_minutes):
    """Format a UTC datetime as Apache's %t in the given UTC offset."""
    local = utc + datetime.timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    offset = "%s%02d%02d" % (sign, hours, minutes)
    return apache_time(local.year, local.month, local.day, local.hour,
                       local.minute, local.second, offset)


def rotate(logs, name):
    """Rotate like logrotate with rotate 14, compress and delaycompress."""
    base = os.path.join(logs, name)
    oldest = "%s.%d.gz" % (base, KEEP)
    if os.path.exists(oldest):
        os.remove(oldest)
    for n in range(KEEP - 1, 1, -1):
        if os.path.exists("%s.%d.gz" % (base, n)):
            os.rename("%s.%d.gz" % (base, n), "%s.%d.gz" % (base, n + 1))
    if os.path.exists(base + ".1"):
        with open(base + ".1", "rb") as plain:
            with gzip.open(base + ".2.gz", "wb") as packed:
                shutil.copyfileobj(plain, packed)
        os.remove(base + ".1")
    os.rename(base, base + ".1")
    open(base, "wb").close()


class RotationSimulationTest(TreeTestCase):
    """Forty days of daily rotation and runs, checked against the generator.

    %t is the time a request started, but Apache writes the line when the
    response ends, so a long download that starts before a rotation lands
    in the next file. Each run happens right after a rotation, before the
    late lines of the previous day are written.
    """

    START = datetime.datetime(2026, 1, 25, tzinfo=datetime.timezone.utc)
    DAYS = 40
    SKIPPED_RUNS = {4, 13, 14, 15, 27}

    def generate_events(self, rng):
        """Return [(write time, line)] for DAYS days and the true downloads."""
        events, truth = [], set()
        for day in range(self.DAYS):
            midnight = self.START + datetime.timedelta(days=day)
            for _ in range(rng.randint(60, 140)):
                started = midnight + datetime.timedelta(
                    seconds=rng.randrange(86400))
                # Most responses take seconds, one in five takes hours.
                if rng.random() < 0.2:
                    duration = rng.randrange(3 * 3600)
                else:
                    duration = rng.randrange(60)
                written = started + datetime.timedelta(seconds=duration)
                client = rng.choice(CLIENTS)
                target, key = rng.choice(TARGETS)
                method = rng.choice(METHODS)
                status = rng.choice(STATUSES)
                line = log_line(
                    ip=client, target=target, method=method, status=status,
                    time=format_time(started, rng.choice(OFFSETS)),
                    fmt=rng.choice(FORMATS))
                events.append((written, line))
                if (key and method in ("GET", "HEAD")
                        and status in (200, 206)):
                    truth.add((client, key, started.date().isoformat()))
        events.sort()
        return events, truth

    def simulate(self, seed, rotation_time):
        """Write, rotate and run day after day, then return (counts, truth)."""
        rng = random.Random(seed)
        events, truth = self.generate_events(rng)
        live = self.log_path()
        write_log(live, [])
        index = 0
        counts = None
        # One extra rotation after the last day flushes its late lines.
        for day in range(1, self.DAYS + 2):
            rotation = self.START + datetime.timedelta(days=day) + rotation_time
            lines = []
            while index < len(events) and events[index][0] < rotation:
                lines.append(events[index][1])
                index += 1
            with open(live, "ab") as file:
                file.write(b"".join(line.encode() + b"\n" for line in lines))
            rotate(self.logs, "access.log")
            if day not in self.SKIPPED_RUNS:
                counts = self.run_ok()
        self.assertEqual(index, len(events))
        return counts, truth

    def check_against_truth(self, counts, truth):
        expected_days = {}
        for _, key, day in truth:
            days = expected_days.setdefault(key, {})
            days[day] = days.get(day, 0) + 1
        expected_months = {}
        for key, days in expected_days.items():
            months = expected_months.setdefault(key, {})
            for day, count in days.items():
                months[day[:7]] = months.get(day[:7], 0) + count

        stored_days = day_counts(counts)
        stored_months = month_counts(counts)
        self.assertEqual(sorted(stored_days), sorted(expected_days))
        for key in sorted(expected_days):
            with self.subTest(key=key):
                self.assertEqual(stored_days.get(key), expected_days[key])
            with self.subTest(key=key, field="months"):
                self.assertEqual(stored_months.get(key),
                                 expected_months[key])
        # The fixture spans three months, and old files have rotated away.
        self.assertEqual(len(expected_months["releases/a.iso"]), 3)
        self.assertFalse(os.path.exists(self.log_path() + ".15.gz"))

    def test_rotation_at_midnight(self):
        counts, truth = self.simulate(20260125, datetime.timedelta(0))
        self.check_against_truth(counts, truth)

    def test_rotation_at_0625(self):
        # Debian's default /etc/crontab starts cron.daily, which runs
        # logrotate, at 06:25.
        counts, truth = self.simulate(
            20260126, datetime.timedelta(hours=6, minutes=25))
        self.check_against_truth(counts, truth)

if __name__ == "__main__":
    unittest.main()
