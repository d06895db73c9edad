"""Seeded fuzz tests: good log lines mixed with mutated and random lines,
and counts.json files with mutated bytes or mutated values.

Mutated lines must never count, and these two rules show why:

1. A line counts only if its key ends with ".iso" in some letter case.
   The key comes from the line's bytes through percent-decoding and
   Apache's \\xhh escapes, so a line without any of the bytes "i", "I", "%"
   and "\\" cannot count. Mutants of lines for .dat keys and random lines
   are rejected and drawn again when they contain one of those bytes.
2. A line whose only timestamp is not a real time is malformed. Copies of
   counted lines get an impossible timestamp and then only single quote,
   NUL, bracket or space characters inserted after the timestamp, which
   cannot form a second timestamp.
"""

import collections
import datetime
import gzip
import json
import os
import random
import unittest

from support import (TreeTestCase, log_line, merge_expected, read_counts,
                     run_main, run_script, write_log)

BLOCKED = frozenset(b"iI%\\")
ALLOWED = bytes(b for b in range(256) if b not in BLOCKED)
FORMATS = ("common", "combined", "vhost_combined")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SEEDS = (1, 2, 3, 4, 5, 6)


def format_time(moment, offset_minutes):
    """Format an aware datetime as Apache's %t shows it in that offset."""
    local = moment + datetime.timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return "%02d/%s/%04d:%02d:%02d:%02d %s%02d%02d" % (
        local.day, MONTHS[local.month - 1], local.year, local.hour,
        local.minute, local.second, sign, hours, minutes)


def random_moment(rng):
    start = datetime.datetime(2026, 9, 28)
    return start + datetime.timedelta(seconds=rng.randrange(10 * 86400))


def good_lines(rng, count):
    """Return (lines, downloads) for `count` counted requests.

    Requests repeat some (ip, key, day) triples at other times of the day,
    which count once.
    """
    lines, downloads = [], []
    for _ in range(count):
        if downloads and rng.random() < 0.2:
            ip, key, day = rng.choice(downloads)
            moment = datetime.datetime.combine(
                day, datetime.time(rng.randrange(24), rng.randrange(60)))
        else:
            ip = "198.51.100.%d" % rng.randrange(1, 40)
            key = "pub/r%d/file-%d.iso" % (rng.randrange(3), rng.randrange(30))
            moment = random_moment(rng)
            day = moment.date()
        offset = rng.choice((0, 0, 60, -420, 330, 780))
        target = "/" + key
        shape = rng.randrange(4)
        if shape == 1:
            target += "?mirror=%d" % rng.randrange(9)
        elif shape == 2:
            target = "https://downloads.example.org" + target
        elif shape == 3:
            target = target.replace("file-", "file%2D")
        lines.append(log_line(
            ip=ip, target=target, method=rng.choice(("GET", "HEAD")),
            status=rng.choice((200, 206)), time=format_time(moment, offset),
            fmt=rng.choice(FORMATS)))
        downloads.append((ip, key, day))
    return lines, downloads


def expected_files(downloads):
    per_day = collections.Counter(
        (key, day.isoformat()) for _ip, key, day in set(downloads))
    files = {}
    for (key, day), count in per_day.items():
        entry = files.setdefault(key, {"days": {}, "months": {}})
        entry["days"][day] = count
        entry["months"][day[:7]] = entry["months"].get(day[:7], 0) + count
    return files


def mutate(rng, data, alphabet):
    """Apply one to four random edits to data, drawing bytes from alphabet."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        position = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(position, len(data) - 1)] = rng.choice(alphabet)
        elif choice == 1:
            del data[position:]
        elif choice == 2:
            data[position:position] = rng.choice(
                (b'"', b"\x00", b"[", b"]", b" ", b"\n", b"\r", b"\\\""))
        elif choice == 3:
            data[position:position] = bytes(
                rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        elif choice == 4:
            del data[position:position + rng.randint(1, 30)]
        else:
            data[position:position] = data[position:position + 40]
    return bytes(data)


def never_counted_mutant(rng):
    """Return a mutant of a .dat line that rule 1 proves cannot count."""
    while True:
        base = log_line(
            ip="203.0.113.%d" % rng.randrange(1, 250),
            target="/pub/data-%d.dat" % rng.randrange(50),
            time=format_time(random_moment(rng), 0),
            fmt=rng.choice(FORMATS)).encode("ascii")
        assert not BLOCKED & set(base), base
        mutant = mutate(rng, base, ALLOWED)
        if not BLOCKED & set(mutant):
            return mutant


def random_line(rng):
    while True:
        line = bytes(rng.choice(ALLOWED) for _ in range(rng.randrange(300)))
        if not BLOCKED & set(line):
            return line


def impossible_time(rng):
    day, month, hour, minute, second = 10, "Oct", 12, 0, 0
    field = rng.randrange(5)
    if field == 0:
        day = rng.randrange(32, 100)
    elif field == 1:
        month = rng.choice(("Foo", "Xyz", "Zzz", "Okt"))
    elif field == 2:
        hour = rng.randrange(24, 100)
    elif field == 3:
        minute = rng.randrange(60, 100)
    else:
        day, month = 30, "Feb"
    if rng.random() < 0.2:
        second = rng.randrange(62, 100)
    return "%02d/%s/2026:%02d:%02d:%02d +0000" % (day, month, hour, minute,
                                                  second)


def bad_time_line(rng, number):
    """Return a counted-looking line that rule 2 proves cannot count."""
    line = log_line(ip="192.0.2.%d" % rng.randrange(1, 250),
                    target="/pub/bad-time-%d.iso" % number,
                    time=impossible_time(rng),
                    fmt=rng.choice(FORMATS)).encode("ascii")
    start = line.index(b"]") + 1
    data = bytearray(line)
    for _ in range(rng.randint(0, 3)):
        position = rng.randrange(start, len(data) + 1)
        data[position:position] = rng.choice((b'"', b"\x00", b"[", b"]", b" "))
    return bytes(data)


def build_logs(rng, folder, good_count=1000, mutant_count=3000,
               random_count=600, bad_time_count=400):
    """Write three logs (one gzip with two members), return the downloads."""
    lines, downloads = good_lines(rng, good_count)
    lines = [line.encode("ascii") for line in lines]
    lines += [never_counted_mutant(rng) for _ in range(mutant_count)]
    lines += [random_line(rng) for _ in range(random_count)]
    lines += [bad_time_line(rng, n) for n in range(bad_time_count)]
    rng.shuffle(lines)
    third = len(lines) // 3
    write_log(os.path.join(folder, "access.log"), lines[:third])
    write_log(os.path.join(folder, "access.log.1"), lines[third:2 * third])
    rest = lines[2 * third:]
    half = len(rest) // 2
    members = [b"".join(line + b"\n" for line in part)
               for part in (rest[:half], rest[half:])]
    with open(os.path.join(folder, "access.log.2.gz"), "wb") as file:
        file.write(b"".join(gzip.compress(member) for member in members))
    return downloads


class LineFuzzTest(TreeTestCase):
    """Good lines are counted exactly among mutated and random lines."""

    def test_fuzz_lines(self):
        for seed in SEEDS:
            with self.subTest(seed=seed):
                for name in os.listdir(self.logs):
                    os.remove(os.path.join(self.logs, name))
                stats = os.path.join(self.tmp, "stats-%d" % seed)
                downloads = build_logs(random.Random(seed), self.logs)
                code, out, err = run_main(self.base_args()
                                          + ["--stats-dir", stats])
                self.assertEqual((code, out, err), (0, "", ""))
                self.assertEqual(read_counts(stats)["files"],
                                 expected_files(downloads))

    def test_fuzz_lines_workers(self):
        downloads = build_logs(random.Random(11), self.logs)
        args = self.base_args()
        args[args.index("--jobs") + 1] = "3"
        result = run_script(args, timeout=120)
        self.assertEqual((result.returncode, result.stdout, result.stderr),
                         (0, "", ""))
        self.assertEqual(read_counts(self.stats)["files"],
                         expected_files(downloads))


VALID_DAYS = ("2024-02-29", "2026-12-31", "2026-01-01", "2025-06-15")
INVALID_DAYS = ("2026-02-29", "2026-04-31", "2026-00-10", "2026-13-01",
                "2026-10-32", "tomorrow", "", "2026/10/10",
                "2026-10-10T00:00")
VALID_MONTHS = ("2026-12", "2025-01", "2024-02")
INVALID_MONTHS = ("2026-13", "2026-00", "2026", "Oct-2026", "")
VALID_COUNTS = (0, 1, 7, 10 ** 12)
INVALID_COUNTS = (-1, 1.5, 2.0, "3", True, False, None, [], {})


def mutate_periods(rng, periods, valid_keys, invalid_keys):
    """Rename a key, replace a count or add an entry in a periods object."""
    choice = rng.randrange(3)
    if choice == 0 and periods:
        old = rng.choice(sorted(periods))
        periods[rng.choice(valid_keys + invalid_keys)] = periods.pop(old)
    elif choice == 1 and periods:
        periods[rng.choice(sorted(periods))] = rng.choice(
            VALID_COUNTS + INVALID_COUNTS)
    else:
        periods[rng.choice(valid_keys + invalid_keys)] = rng.choice(
            VALID_COUNTS + INVALID_COUNTS)


def periods_valid(periods, valid_keys):
    """Return whether all keys are valid periods and all counts ints >= 0."""
    return all(key in valid_keys and type(count) is int and count >= 0
               for key, count in periods.items())


class HistoryFuzzTest(TreeTestCase):
    """Mutated counts.json files end in a clean run or a clean exit 1."""

    def test_fuzz_history(self):
        rng = random.Random(5)
        write_log(self.log_path(), [log_line(ip="192.0.2.1",
                                             target="/pub/a.iso")])
        files = {"pub/a.iso": {"days": {"2026-10-09": 3, "2026-10-10": 2},
                               "months": {"2026-09": 7, "2026-10": 5}},
                 "pub/b.iso": {"days": {"2026-09-30": 1},
                               "months": {"2026-09": 1}}}
        valid = json.dumps({"files": files, "generated": "2026-10-10T00:00:00Z",
                            "schema": 2}, sort_keys=True, indent=2).encode()
        alphabet = bytes(range(256))
        for attempt in range(150):
            mutant = mutate(rng, valid, alphabet)
            base = os.path.join(self.tmp, "h%d" % attempt)
            root = os.path.join(base, "root")
            stats = os.path.join(root, ".stats")
            os.makedirs(stats)
            counts = os.path.join(stats, "counts.json")
            with open(counts, "wb") as file:
                file.write(mutant)
            args = ["--logs", self.log_path(), "--root", root, "--jobs", "1"]
            with self.subTest(attempt=attempt, mutant=mutant[:120]):
                code, out, err = run_main(args)
                self.assertIn(code, (0, 1))
                self.assertNotIn("Traceback", err)
                try:
                    json.loads(mutant.decode("utf-8"))
                    parses = True
                except ValueError:
                    parses = False
                if not parses and mutant.strip():
                    self.assertEqual(code, 1)
                if code == 1:
                    self.assertEqual(len(err.splitlines()), 1, err)
                    with open(counts, "rb") as file:
                        self.assertEqual(file.read(), mutant)
                    self.assertFalse(os.path.exists(
                        os.path.join(root, "index.html")))
                else:
                    self.assertEqual(err, "")
                    self.assertEqual(read_counts(stats)["schema"], 2)

    def test_fuzz_history_values(self):
        # Every key and count comes from the tables above or from the
        # valid starting history, so validity is known without the script.
        rng = random.Random(8)
        log = self.log_path()
        download = ("192.0.2.1", "pub/new.iso", datetime.date(2026, 10, 10))
        write_log(log, [log_line(ip=download[0], target="/pub/new.iso")])
        start_days = ("2026-10-09", "2026-10-10", "2026-09-30")
        start_months = ("2026-09", "2026-10")
        for attempt in range(150):
            legacy = attempt % 3 == 0
            files = {"pub/a.iso": {"days": {"2026-10-09": 3, "2026-10-10": 2},
                                   "months": {"2026-09": 7, "2026-10": 5}},
                     "pub/b.iso": {"days": {"2026-09-30": 1},
                                   "months": {"2026-09": 1}}}
            valid = True
            for _ in range(rng.randint(1, 3)):
                entry = files[rng.choice(sorted(files))]
                if legacy or rng.random() < 0.5:
                    keys = start_months + VALID_MONTHS
                    mutate_periods(rng, entry["months"], keys, INVALID_MONTHS)
                else:
                    keys = start_days + VALID_DAYS
                    mutate_periods(rng, entry["days"], keys, INVALID_DAYS)
            for entry in files.values():
                valid = valid and periods_valid(
                    entry["days"], start_days + VALID_DAYS)
                valid = valid and periods_valid(
                    entry["months"], start_months + VALID_MONTHS)
            if legacy:
                history = {key: {"days": {}, "months": entry["months"]}
                           for key, entry in files.items()}
                document = {key: entry["months"]
                            for key, entry in files.items()}
            else:
                history = files
                document = {"files": files, "schema": 2,
                            "generated": "2026-10-10T00:00:00Z"}
            data = json.dumps(document, indent=2).encode("utf-8")
            root = os.path.join(self.tmp, "v%d" % attempt)
            stats = os.path.join(root, ".stats")
            os.makedirs(stats)
            counts = os.path.join(stats, "counts.json")
            with open(counts, "wb") as file:
                file.write(data)
            args = ["--logs", log, "--root", root, "--jobs", "1"]
            with self.subTest(attempt=attempt, document=document):
                code, out, err = run_main(args)
                if valid:
                    self.assertEqual((code, out, err), (0, "", ""))
                    self.assertEqual(read_counts(stats)["files"],
                                     merge_expected(history, [download]))
                else:
                    self.assertEqual(code, 1)
                    self.assertEqual(len(err.splitlines()), 1, err)
                    with open(counts, "rb") as file:
                        self.assertEqual(file.read(), data)


if __name__ == "__main__":
    unittest.main()
