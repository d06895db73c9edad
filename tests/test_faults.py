"""Fault tolerance: interrupted and failed writes, the lock, bad history,
bad log files, malformed lines and a broken environment.

Some cases run the script as the user nobody (uid 65534) when the tests run
as root, because root reads files whatever their mode.
"""

import datetime
import errno
import fcntl
import functools
import gzip
import html.parser
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
import unittest
import zlib
from unittest import mock

from support import (SCRIPT, TreeTestCase, apache_time, log_line,
                     merge_expected, read_counts, run_main, run_script,
                     write_log)

ERROR_PREFIX = "download_stats: error: "
WARNING_PREFIX = "download_stats: warning: "
DAY = datetime.date(2026, 10, 10)
NOBODY = 65534


def download_line(ip, key, day=DAY, fmt="combined", hour=12):
    """Build a log line that counts as a download of `key` on `day`."""
    time_field = apache_time(day.year, day.month, day.day, hour)
    return log_line(ip=ip, target="/" + key, time=time_field, fmt=fmt)


def history_bytes(files):
    document = {"files": files, "generated": "2026-01-01T00:00:00Z",
                "schema": 2}
    return json.dumps(document, sort_keys=True, indent=2).encode("utf-8")


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


def leftovers(*folders):
    """Return hidden names (temp files) in the folders, except .stats."""
    found = []
    for folder in folders:
        if os.path.isdir(folder):
            found += [os.path.join(folder, name) for name in os.listdir(folder)
                      if name.startswith(".") and name != ".stats"]
    return sorted(found)


def error_lines(err):
    return [line for line in err.splitlines()
            if line.startswith(ERROR_PREFIX)]


def warning_lines(err, name):
    return [line for line in err.splitlines()
            if line.startswith(WARNING_PREFIX) and name in line]


def drop_to_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@functools.lru_cache(maxsize=None)
def nobody_python():
    """Return a Python 3.9+ interpreter that nobody can run, or None."""
    check = "import sys; print(sys.version_info >= (3, 9))"
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            result = subprocess.run([candidate, "-c", check],
                                    preexec_fn=drop_to_nobody,
                                    capture_output=True, text=True)
        except OSError:
            continue
        if result.stdout.strip() == "True":
            return candidate
    return None


def run_unprivileged(test, args):
    """Run the script as nobody when the tests run as root, else as is."""
    if os.geteuid() != 0:
        return run_script(args, timeout=60)
    python = nobody_python()
    if python is None:
        test.skipTest("no Python 3.9+ that the user nobody can run")
    os.chmod(test.tmp, 0o755)
    return subprocess.run([python, SCRIPT] + list(args),
                          preexec_fn=drop_to_nobody, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)


def chown_tree(path, uid):
    os.chown(path, uid, uid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def history_fixture(count, days_per_file=3):
    """Return a consistent history of `count` files (keys old/h-NNNNN.iso)."""
    files = {}
    for number in range(count):
        days = {}
        for offset in range(days_per_file):
            days["2026-09-%02d" % (1 + (number + offset) % 28)] = 1 + offset
        files["old/h-%05d.iso" % number] = {
            "days": days, "months": {"2026-09": sum(days.values())}}
    return files


class TextCollector(html.parser.HTMLParser):
    """Collect the text and the href values of an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [value for name, value in attrs if name == "href"]

    def handle_data(self, data):
        self.text.append(data)


def parse_page(path):
    collector = TextCollector()
    with open(path, encoding="utf-8") as file:
        collector.feed(file.read())
    collector.close()
    return "".join(collector.text), collector.hrefs


class WriteTest(TreeTestCase):
    """Temp file, fsync and rename for every output, under crashes and failures."""

    def setUp(self):
        super().setUp()
        self.counts = os.path.join(self.stats, "counts.json")
        self.root_page = os.path.join(self.root, "index.html")
        self.stats_page = os.path.join(self.stats, "index.html")

    def test_writes_use_temp_rename(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        events = []
        real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

        def fsync(fd):
            path = os.path.realpath("/proc/self/fd/%d" % fd)
            events.append(("fsync", path, os.fstat(fd).st_size))
            return real_fsync(fd)

        def replace(src, dst, *args, **kwargs):
            events.append(("rename", os.path.realpath(src),
                           os.path.realpath(dst)))
            return real_replace(src, dst, *args, **kwargs)

        def rename(src, dst, *args, **kwargs):
            events.append(("rename", os.path.realpath(src),
                           os.path.realpath(dst)))
            return real_rename(src, dst, *args, **kwargs)

        with mock.patch("os.fsync", fsync), \
                mock.patch("os.replace", replace), \
                mock.patch("os.rename", rename):
            code, out, err = run_main(self.base_args())
        self.assertEqual((code, out, err), (0, "", ""))
        for target in (self.counts, self.root_page, self.stats_page):
            with self.subTest(target=os.path.basename(os.path.dirname(target))
                              + "/" + os.path.basename(target)):
                target = os.path.realpath(target)
                renames = [i for i, event in enumerate(events)
                           if event[0] == "rename" and event[2] == target]
                self.assertEqual(len(renames), 1, events)
                index = renames[0]
                source = events[index][1]
                self.assertEqual(os.path.dirname(source),
                                 os.path.dirname(target))
                self.assertTrue(os.path.basename(source).startswith("."),
                                source)
                synced = [event for event in events[:index]
                          if event[0] == "fsync" and event[1] == source]
                self.assertTrue(synced, "no fsync of %s before rename" % source)
                # The size at fsync time shows the data was flushed first.
                self.assertEqual(synced[-1][2], os.path.getsize(target))

    def test_rename_failure_removes_temp(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        old = history_bytes(history_fixture(2))
        real_replace, real_rename = os.replace, os.rename
        for target in (self.counts, self.root_page, self.stats_page):
            name = os.path.relpath(target, self.root)
            with self.subTest(target=name):
                for path in (self.counts, self.counts + ".bak",
                             self.root_page, self.stats_page):
                    if os.path.exists(path):
                        os.remove(path)
                write_bytes(self.counts, old)
                failing = os.path.realpath(target)

                def replace(src, dst, *args, _real=real_replace, **kwargs):
                    if os.path.realpath(dst) == failing:
                        raise OSError(errno.EIO, "Input/output error", dst)
                    return _real(src, dst, *args, **kwargs)

                def rename(src, dst, *args, _real=real_rename, **kwargs):
                    if os.path.realpath(dst) == failing:
                        raise OSError(errno.EIO, "Input/output error", dst)
                    return _real(src, dst, *args, **kwargs)

                with mock.patch("os.replace", replace), \
                        mock.patch("os.rename", rename):
                    code, out, err = run_main(self.base_args())
                self.assertEqual(code, 1)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertEqual(len(error_lines(err)), 1, err)
                self.assertEqual(leftovers(self.root, self.stats), [])
                if target == self.counts:
                    self.assertEqual(read_bytes(self.counts), old)

    def test_fsize_limit_keeps_counts(self):
        # Many days per file make counts.json several times larger than the
        # pages, so a file size limit between the two stops counts.json.
        lines = []
        for number in range(40):
            for day in range(1, 29):
                lines.append(download_line(
                    "198.51.100.%d" % (number + 1), "big/f-%02d.iso" % number,
                    datetime.date(2026, 10, day)))
        write_log(self.log_path(), lines)
        reference = os.path.join(self.tmp, "reference")
        os.mkdir(reference)
        code, _out, err = run_main([
            "--logs", self.log_path(), "--root", reference, "--jobs", "1"])
        self.assertEqual(code, 0, err)
        full_size = os.path.getsize(os.path.join(reference, ".stats",
                                                 "counts.json"))
        page_size = max(
            os.path.getsize(os.path.join(reference, "index.html")),
            os.path.getsize(os.path.join(reference, ".stats", "index.html")))
        old = history_bytes(history_fixture(1))
        self.assertLess(max(page_size, len(old)), full_size,
                        "fixture: counts.json must be the largest output")
        limit = (max(page_size, len(old)) + full_size) // 2
        write_bytes(self.counts, old)

        def limit_file_size():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (limit, resource.RLIM_INFINITY))

        result = run_script(self.base_args(), preexec_fn=limit_file_size,
                            timeout=60)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertEqual(len(error_lines(result.stderr)), 1, result.stderr)
        self.assertEqual(read_bytes(self.counts), old)
        self.assertEqual(leftovers(self.root, self.stats), [])

    def _kill_fixture(self):
        """Write a large history and a small log, return (old bytes, files)."""
        history = history_fixture(6000)
        downloads = [("192.0.2.%d" % (n + 1), "new/k-%d.iso" % n, DAY)
                     for n in range(20)]
        write_log(self.log_path(),
                  [download_line(ip, key, day) for ip, key, day in downloads])
        old = history_bytes(history)
        write_bytes(self.counts, old)
        return old, merge_expected(history, downloads)

    def _counts_state(self, old, expected):
        data = read_bytes(self.counts) if os.path.exists(self.counts) else None
        if data == old:
            return "old"
        try:
            files = json.loads(data.decode("utf-8"))["files"]
        except (AttributeError, ValueError, KeyError, TypeError):
            return "corrupt: %r" % (data[:80] if data else data)
        return "new" if files == expected else "wrong files"

    def _start(self):
        return subprocess.Popen(
            [sys.executable, SCRIPT] + self.base_args(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def test_sigkill_random_delays(self):
        old, expected = self._kill_fixture()
        started = time.monotonic()
        self._start().wait(timeout=60)
        duration = time.monotonic() - started
        self.assertEqual(self._counts_state(old, expected), "new")
        rng = random.Random(20261010)
        for attempt in range(8):
            write_bytes(self.counts, old)
            delay = rng.uniform(0.0, duration)
            process = self._start()
            self.addCleanup(process.kill)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait()
            with self.subTest(attempt=attempt, delay=round(delay, 3)):
                self.assertIn(self._counts_state(old, expected),
                              ("old", "new"))
        write_bytes(self.counts, old)
        code, out, err = run_main(self.base_args())
        self.assertEqual((code, out, err), (0, "", ""))
        self.assertEqual(read_counts(self.stats)["files"], expected)

    def test_sigkill_at_first_change(self):
        # Poll the stats folder and kill the run as soon as counts.json
        # changes or a temp file appears, which is the moment a write
        # without temp file and rename would leave a truncated file.
        old, expected = self._kill_fixture()
        rng = random.Random(7)
        for attempt in range(4):
            for path in leftovers(self.stats):
                os.remove(path)
            write_bytes(self.counts, old)
            before = os.stat(self.counts)
            signature = (before.st_ino, before.st_size, before.st_mtime_ns)
            on_temp = attempt % 2 == 1
            process = self._start()
            self.addCleanup(process.kill)
            deadline = time.monotonic() + 60
            while process.poll() is None:
                self.assertLess(time.monotonic(), deadline, "run hangs")
                try:
                    now = os.stat(self.counts)
                    changed = (now.st_ino, now.st_size,
                               now.st_mtime_ns) != signature
                except FileNotFoundError:
                    changed = True
                if changed or (on_temp and leftovers(self.stats)):
                    if on_temp:
                        time.sleep(rng.uniform(0.0, 0.002))
                    process.send_signal(signal.SIGKILL)
                    break
            process.wait()
            with self.subTest(attempt=attempt, on_temp=on_temp):
                self.assertIn(self._counts_state(old, expected),
                              ("old", "new"))

    def test_backup_keeps_previous(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        old = history_bytes(history_fixture(2))
        write_bytes(self.counts, old)
        self.run_ok()
        backup = os.path.join(self.stats, "counts.json.bak")
        self.assertEqual(read_bytes(backup), old)
        first = read_bytes(self.counts)
        write_log(self.log_path(), [download_line("192.0.2.2", "b.iso")])
        self.run_ok()
        self.assertEqual(read_bytes(backup), first)

    def test_backup_hard_link(self):
        # A run whose last rename failed leaves counts.json and its backup
        # as two links to one file, and rename(2) between two links to the
        # same file does nothing.
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        write_bytes(self.counts, history_bytes(history_fixture(2)))
        os.link(self.counts, self.counts + ".bak")
        self.run_ok()
        self.assertEqual(leftovers(self.root, self.stats), [])

    def test_foreign_index_moved_once(self):
        foreign = b"<html><body>hand-written page</body></html>\n"
        write_bytes(self.root_page, foreign)
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(len(warning_lines(err, "index.html")), 1, err)
        original = self.root_page + ".orig"
        self.assertEqual(read_bytes(original), foreign)
        self.assertNotEqual(read_bytes(self.root_page), foreign)
        before = os.stat(original)
        self.run_ok()
        after = os.stat(original)
        self.assertEqual(read_bytes(original), foreign)
        self.assertEqual((after.st_ino, after.st_mtime_ns),
                         (before.st_ino, before.st_mtime_ns))


class LockTest(TreeTestCase):
    """fcntl.flock on STATS/counts.json.lock around read, merge and write."""

    def setUp(self):
        super().setUp()
        self.counts = os.path.join(self.stats, "counts.json")
        self.downloads = [("192.0.2.%d" % n, "l-%d.iso" % n, DAY)
                          for n in range(1, 6)]
        write_log(self.log_path(), [download_line(*d) for d in self.downloads])

    def hold_lock(self):
        os.makedirs(self.stats, exist_ok=True)
        lock = open(os.path.join(self.stats, "counts.json.lock"), "a+")
        self.addCleanup(lock.close)
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return lock

    def test_lock_timeout(self):
        old = history_bytes(history_fixture(2))
        write_bytes(self.counts, old)
        self.hold_lock()
        started = time.monotonic()
        result = run_script(self.base_args() + ["--lock-timeout", "1"],
                            timeout=30)
        elapsed = time.monotonic() - started
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertEqual(len(error_lines(result.stderr)), 1, result.stderr)
        self.assertIn("lock", result.stderr.lower())
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertEqual(read_bytes(self.counts), old)
        self.assertFalse(os.path.exists(os.path.join(self.root, "index.html")))
        self.assertFalse(os.path.exists(os.path.join(self.stats, "index.html")))

    def test_lock_waiter_proceeds(self):
        lock = self.hold_lock()
        process = subprocess.Popen(
            [sys.executable, SCRIPT] + self.base_args()
            + ["--lock-timeout", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(process.kill)
        time.sleep(1.0)
        self.assertIsNone(process.poll())
        self.assertFalse(os.path.exists(self.counts))
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        lock.close()
        out, err = process.communicate(timeout=30)
        self.assertEqual((process.returncode, out, err), (0, "", ""))
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected({}, self.downloads))

    def _start(self, logs):
        return subprocess.Popen(
            [sys.executable, SCRIPT, "--logs", logs, "--root", self.root,
             "--jobs", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_parallel_same_logs(self):
        processes = [self._start(self.log_path()) for _ in range(2)]
        for process in processes:
            out, err = process.communicate(timeout=60)
            self.assertEqual((process.returncode, out, err), (0, "", ""))
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected({}, self.downloads))

    def test_parallel_no_lost_update(self):
        # Without the lock both runs read the same old history and the
        # second rename drops what the first run added.
        history = history_fixture(4000)
        write_bytes(self.counts, history_bytes(history))
        other = [("198.51.100.%d" % n, "m-%d.iso" % n, DAY)
                 for n in range(1, 6)]
        other_log = os.path.join(self.logs, "other.log")
        write_log(other_log, [download_line(*d) for d in other])
        processes = [self._start(self.log_path()), self._start(other_log)]
        for process in processes:
            out, err = process.communicate(timeout=60)
            self.assertEqual((process.returncode, out, err), (0, "", ""))
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected(history, self.downloads + other))


INVALID_HISTORY = [
    ("truncated_json", b'{"files": {"a.iso": {"days": '),
    ("binary", b"\x00\xff\xfe not json"),
    ("array", b"[]"),
    ("string", b'"counts"'),
    ("number", b"42"),
    ("null", b"null"),
    ("schema_3", b'{"files": {}, "schema": 3}'),
    ("schema_text", b'{"files": {}, "schema": "2"}'),
    ("day_negative",
     b'{"files": {"a.iso": {"days": {"2026-10-10": -1},'
     b' "months": {"2026-10": 1}}}, "schema": 2}'),
    ("day_float",
     b'{"files": {"a.iso": {"days": {"2026-10-10": 1.5},'
     b' "months": {"2026-10": 2}}}, "schema": 2}'),
    ("day_float_whole",
     b'{"files": {"a.iso": {"days": {"2026-10-10": 2.0},'
     b' "months": {"2026-10": 2}}}, "schema": 2}'),
    ("day_text",
     b'{"files": {"a.iso": {"days": {"2026-10-10": "3"},'
     b' "months": {"2026-10": 3}}}, "schema": 2}'),
    ("day_bool",
     b'{"files": {"a.iso": {"days": {"2026-10-10": true},'
     b' "months": {"2026-10": 1}}}, "schema": 2}'),
    ("day_null",
     b'{"files": {"a.iso": {"days": {"2026-10-10": null},'
     b' "months": {"2026-10": 1}}}, "schema": 2}'),
    ("month_negative",
     b'{"files": {"a.iso": {"days": {"2026-10-10": 1},'
     b' "months": {"2026-10": -5}}}, "schema": 2}'),
    ("day_feb_30",
     b'{"files": {"a.iso": {"days": {"2026-02-30": 1},'
     b' "months": {"2026-02": 1}}}, "schema": 2}'),
    ("day_month_13",
     b'{"files": {"a.iso": {"days": {"2026-13-01": 1},'
     b' "months": {"2026-10": 1}}}, "schema": 2}'),
    ("day_word",
     b'{"files": {"a.iso": {"days": {"yesterday": 1},'
     b' "months": {"2026-10": 1}}}, "schema": 2}'),
    ("month_13",
     b'{"files": {"a.iso": {"days": {"2026-10-10": 1},'
     b' "months": {"2026-13": 1}}}, "schema": 2}'),
    ("month_00",
     b'{"files": {"a.iso": {"days": {"2026-10-10": 1},'
     b' "months": {"2026-00": 1}}}, "schema": 2}'),
    ("month_word",
     b'{"files": {"a.iso": {"days": {"2026-10-10": 1},'
     b' "months": {"October": 1}}}, "schema": 2}'),
    ("legacy_negative", b'{"a.iso": {"2026-10": -1}}'),
    ("legacy_month_13", b'{"a.iso": {"2026-13": 4}}'),
    ("legacy_text", b'{"a.iso": {"2026-10": "4"}}'),
]


class HistoryTest(TreeTestCase):
    """Invalid counts.json stops the run before anything is written."""

    def make_tree(self, name):
        base = os.path.join(self.tmp, name)
        root = os.path.join(base, "root")
        stats = os.path.join(root, ".stats")
        os.makedirs(stats)
        log = os.path.join(base, "access.log")
        write_log(log, [download_line("192.0.2.1", "a.iso"),
                        download_line("192.0.2.2", "b.iso")])
        return root, stats, ["--logs", log, "--root", root, "--jobs", "1"]

    def test_history_invalid(self):
        for name, data in INVALID_HISTORY:
            with self.subTest(case=name):
                root, stats, args = self.make_tree(name)
                counts = os.path.join(stats, "counts.json")
                write_bytes(counts, data)
                code, out, err = run_main(args)
                self.assertEqual(code, 1)
                self.assertEqual(out, "")
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertEqual(len(error_lines(err)), 1, err)
                self.assertIn("counts.json", err)
                self.assertEqual(read_bytes(counts), data)
                self.assertFalse(os.path.exists(counts + ".bak"))
                self.assertFalse(os.path.exists(os.path.join(root,
                                                             "index.html")))
                self.assertFalse(os.path.exists(os.path.join(stats,
                                                             "index.html")))
                self.assertEqual(leftovers(root, stats), [])

    def test_history_invalid_keeps_pages(self):
        root, stats, args = self.make_tree("pages")
        code, _out, err = run_main(args)
        self.assertEqual(code, 0, err)
        pages = [os.path.join(root, "index.html"),
                 os.path.join(stats, "index.html")]
        before = [read_bytes(path) for path in pages]
        counts = os.path.join(stats, "counts.json")
        write_bytes(counts, b'{"files": {}, "schema": 99}')
        code, _out, err = run_main(args)
        self.assertEqual(code, 1)
        self.assertEqual([read_bytes(path) for path in pages], before)

    def test_history_empty(self):
        expected = merge_expected({}, [("192.0.2.1", "a.iso", DAY),
                                       ("192.0.2.2", "b.iso", DAY)])
        for name, data in (("empty_file", b""), ("empty_object", b"{}")):
            with self.subTest(case=name):
                root, stats, args = self.make_tree(name)
                write_bytes(os.path.join(stats, "counts.json"), data)
                code, out, err = run_main(args)
                self.assertEqual((code, out, err), (0, "", ""))
                self.assertEqual(read_counts(stats)["files"], expected)
                self.assertEqual(read_counts(stats)["schema"], 2)


class LogFileTest(TreeTestCase):
    """Broken, empty, unreadable and missing log files."""

    def test_truncated_gzip(self):
        lines = [download_line("203.0.113.%d" % (n % 250 + 1),
                               "gz/f-%05d.iso" % n) for n in range(3000)]
        packed = gzip.compress(("\n".join(lines) + "\n").encode("ascii"))
        # Move the cut until it falls well inside a line, so the counted
        # lines are exactly the complete lines that zlib returns.
        cut = len(packed) // 2
        while True:
            prefix = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
                packed[:cut])
            complete = prefix.count(b"\n")
            tail = len(prefix) - prefix.rfind(b"\n") - 1
            if 20 <= tail <= len(lines[complete]) - 20:
                break
            cut += 5
        self.assertGreater(complete, 100)
        write_bytes(self.log_path("access.log.1.gz"), packed[:cut])
        plain = [("192.0.2.7", "plain.iso", DAY)]
        write_log(self.log_path(), [download_line(*d) for d in plain])
        downloads = plain + [("203.0.113.%d" % (n % 250 + 1),
                              "gz/f-%05d.iso" % n, DAY)
                             for n in range(complete)]
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(len(warning_lines(err, "access.log.1.gz")), 1, err)
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected({}, downloads))

    def test_multi_member_gzip(self):
        first = [("192.0.2.1", "m-1.iso", DAY), ("192.0.2.2", "m-2.iso", DAY)]
        second = [("192.0.2.3", "m-3.iso", DAY)]
        data = b"".join(
            gzip.compress(("\n".join(download_line(*d) for d in part)
                           + "\n").encode("ascii"))
            for part in (first, second))
        write_bytes(self.log_path("access.log.2.gz"), data)
        files = self.run_ok()["files"]
        self.assertEqual(files, merge_expected({}, first + second))

    def test_gz_name_plain_text(self):
        downloads = [("192.0.2.1", "t-1.iso", DAY), ("192.0.2.2", "t-2.iso",
                                                     DAY)]
        write_log(self.log_path("access.log.3.gz"),
                  [download_line(*d) for d in downloads])
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(len(warning_lines(err, "access.log.3.gz")), 1, err)
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected({}, downloads))

    def test_empty_logs(self):
        downloads = [("192.0.2.1", "e.iso", DAY)]
        write_log(self.log_path(), [download_line(*d) for d in downloads])
        write_bytes(self.log_path("access.log.1"), b"")
        write_bytes(self.log_path("access.log.2.gz"), b"")
        write_bytes(self.log_path("access.log.3.gz"), gzip.compress(b""))
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        self.assertEqual(error_lines(err), [])
        self.assertNotIn("Traceback", err)
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected({}, downloads))

    def test_unreadable_log(self):
        downloads = [("192.0.2.1", "r.iso", DAY)]
        write_log(self.log_path(), [download_line(*d) for d in downloads])
        secret = self.log_path("access.log.1")
        write_log(secret, [download_line("192.0.2.9", "secret.iso")])
        os.chmod(secret, 0)
        if os.geteuid() == 0:
            # Root reads a mode 000 file, so the script runs as nobody.
            chown_tree(self.root, NOBODY)
        elif os.access(secret, os.R_OK):
            self.skipTest("this user can read a mode 000 file")
        result = run_unprivileged(self, self.base_args())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertEqual(len(warning_lines(result.stderr, "access.log.1")), 1,
                         result.stderr)
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected({}, downloads))

    def test_directory_matches(self):
        downloads = [("192.0.2.1", "d.iso", DAY)]
        write_log(self.log_path(), [download_line(*d) for d in downloads])
        os.mkdir(self.log_path("access.log.old"))
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(len(warning_lines(err, "access.log.old")), 1, err)
        self.assertEqual(read_counts(self.stats)["files"],
                         merge_expected({}, downloads))

    def test_no_match_keeps_history(self):
        history = history_fixture(3)
        write_bytes(os.path.join(self.stats, "counts.json"),
                    history_bytes(history))
        pattern = os.path.join(self.logs, "nothing-*.log")
        args = ["--logs", pattern, "--root", self.root, "--jobs", "1"]
        code, out, err = run_main(args)
        self.assertEqual((code, out, err), (0, "", ""))
        self.assertEqual(read_counts(self.stats)["files"], history)
        self.assertTrue(os.path.exists(os.path.join(self.root, "index.html")))
        self.assertTrue(os.path.exists(os.path.join(self.stats, "index.html")))
        code, _out, err = run_main(args + ["-v"])
        self.assertEqual(code, 0, err)
        self.assertIn("download_stats: no log file matches %s" % pattern,
                      err.splitlines())


def junk_bytes(rng, size):
    """Return random bytes without any line separator a reader may use."""
    separators = b"\n\r\x0b\x0c\x1c\x1d\x1e\x85"
    allowed = bytes(b for b in range(256) if b not in separators)
    return bytes(rng.choice(allowed) for _ in range(size))


def malformed_lines():
    """Return one malformed line of each kind.

    The kinds are binary junk, TLS handshake bytes, a cut request, impossible
    dates, a 100 KB line, NUL bytes, bad percent-escapes, invalid UTF-8 and
    a key above the root. Each line names its own .iso key, so a line
    counted by mistake shows up as an extra key in counts.json.
    """
    rng = random.Random(99)
    good = download_line("192.0.2.50", "cut.iso")
    return [
        b"GET /junk-1.iso " + junk_bytes(rng, 200),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + junk_bytes(rng, 120),
        good[:good.index("HTTP/")].encode("ascii"),
        log_line(ip="192.0.2.51", target="/date-1.iso",
                 time="99/Foo/2026:25:61:00 +0000"),
        log_line(ip="192.0.2.52", target="/date-2.iso",
                 time="30/Feb/2026:12:00:00 +0000"),
        log_line(ip="192.0.2.53", target="/date-3.iso",
                 time="10/Oct/2026:24:00:00 +0000"),
        b"A" * 100000,
        download_line("192.0.2.55", "nul\x00raw.iso").encode("ascii"),
        download_line("192.0.2.56", "nul%00escaped.iso"),
        download_line("192.0.2.57", "bad%zzescape.iso"),
        download_line("192.0.2.58", "bad%ff%feutf8.iso"),
        download_line("192.0.2.59", "../../etc/escape.iso"),
    ]


class LineTest(TreeTestCase):
    """Malformed lines are skipped and counted as malformed."""

    def setUp(self):
        super().setUp()
        self.downloads = [("192.0.2.%d" % n, "ok-%d.iso" % n, DAY)
                          for n in range(1, 6)]
        self.good = [download_line(*d) for d in self.downloads]

    def test_malformed_not_counted(self):
        bad = malformed_lines()
        lines = self.good[:2] + bad + self.good[2:]
        write_log(self.log_path(), lines)
        files = self.run_ok()["files"]
        self.assertEqual(files, merge_expected({}, self.downloads))

    def test_malformed_verbose(self):
        bad = malformed_lines()
        lines = self.good[:2] + bad + self.good[2:]
        write_log(self.log_path(), lines)
        code, out, err = run_main(self.base_args() + ["-v"])
        self.assertEqual(code, 0, err)
        pattern = (r"^download_stats: (\d+) malformed lines skipped, "
                   r"first: (.*?) line (\d+)(.*)$")
        found = re.findall(pattern, err, re.MULTILINE)
        self.assertEqual(len(found), 1, err)
        count, name, number, rest = found[0]
        self.assertEqual(int(count), len(bad))
        self.assertTrue(name.endswith("access.log"), name)
        self.assertEqual(int(number), 3)
        # The example is the start of line 3, binary junk shown escaped.
        self.assertTrue(rest.startswith(': "GET /junk-1.iso '), rest)
        self.assertTrue(rest.endswith('..."'), rest)

    def test_cut_in_agent_not_counted(self):
        cut = download_line("192.0.2.60", "cut-agent.iso")[:-4]
        write_log(self.log_path(), self.good + [cut])
        files = self.run_ok()["files"]
        self.assertEqual(files, merge_expected({}, self.downloads))

    def test_long_agent_not_counted(self):
        # 100 KB in a user agent whose closing quote is missing.
        long_line = download_line("192.0.2.54", "long.iso")[:-1] + "x" * 100000
        write_log(self.log_path(), self.good + [long_line])
        files = self.run_ok()["files"]
        self.assertEqual(files, merge_expected({}, self.downloads))

    def test_crlf_line_counted(self):
        # A log copied through a Windows machine ends its lines with CR LF;
        # the lines are whole, so they count.
        crlf = download_line("192.0.2.61", "crlf.iso") + "\r"
        write_log(self.log_path(), self.good + [crlf])
        files = self.run_ok()["files"]
        expected = self.downloads + [("192.0.2.61", "crlf.iso", DAY)]
        self.assertEqual(files, merge_expected({}, expected))

    def test_escaped_tls_not_counted(self):
        # Apache writes the bytes of a TLS handshake sent to a plain port as
        # \xhh escapes in the request field, with status 400.
        tls = ('192.0.2.62 - - [10/Oct/2026:12:00:00 +0000] '
               '"\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03" 400 '
               '226 "-" "-"')
        write_log(self.log_path(), self.good + [tls])
        files = self.run_ok()["files"]
        self.assertEqual(files, merge_expected({}, self.downloads))


class EnvironmentTest(TreeTestCase):
    """Missing root, unusable stats folder, unlistable logs, odd keys."""

    def test_root_missing(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        missing = os.path.join(self.tmp, "no-such-root")
        code, out, err = run_main(["--logs", self.log_path(), "--root",
                                   missing, "--jobs", "1"])
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(len(error_lines(err)), 1, err)
        self.assertIn(missing, err)
        self.assertFalse(os.path.exists(missing))

    def test_stats_dir_is_file(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        write_bytes(self.stats, b"not a folder\n")
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(len(error_lines(err)), 1, err)
        self.assertIn(".stats", err)
        self.assertEqual(read_bytes(self.stats), b"not a folder\n")
        self.assertFalse(os.path.exists(os.path.join(self.root, "index.html")))
        self.assertEqual(leftovers(self.root), [])

    def test_stats_parent_is_file(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        blocker = os.path.join(self.tmp, "blocker")
        write_bytes(blocker, b"")
        stats = os.path.join(blocker, "stats")
        code, out, err = run_main(self.base_args() + ["--stats-dir", stats])
        self.assertEqual(code, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(len(error_lines(err)), 1, err)
        self.assertIn(stats, err)
        self.assertFalse(os.path.exists(os.path.join(self.root, "index.html")))

    def test_stats_dir_read_only(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        old = history_bytes(history_fixture(2))
        write_bytes(os.path.join(self.stats, "counts.json"), old)
        if os.geteuid() == 0:
            chown_tree(self.root, NOBODY)
            os.chown(self.stats, 0, 0)
        os.chmod(self.stats, 0o555)
        if os.geteuid() != 0 and os.access(self.stats, os.W_OK):
            self.skipTest("this user can write a mode 555 folder")
        result = run_unprivileged(self, self.base_args())
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertEqual(len(error_lines(result.stderr)), 1, result.stderr)
        self.assertIn(".stats", result.stderr)
        self.assertEqual(read_bytes(os.path.join(self.stats, "counts.json")),
                         old)
        self.assertFalse(os.path.exists(os.path.join(self.root, "index.html")))

    def test_logs_dir_no_permission(self):
        write_log(self.log_path(), [download_line("192.0.2.1", "a.iso")])
        old = history_bytes(history_fixture(2))
        write_bytes(os.path.join(self.stats, "counts.json"), old)
        if os.geteuid() == 0:
            chown_tree(self.root, NOBODY)
        os.chmod(self.logs, 0)
        self.addCleanup(os.chmod, self.logs, 0o755)
        if os.geteuid() != 0 and os.access(self.logs, os.R_OK | os.X_OK):
            self.skipTest("this user can list a mode 000 folder")
        result = run_unprivileged(self, self.base_args())
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertEqual(len(error_lines(result.stderr)), 1, result.stderr)
        self.assertIn(self.logs, result.stderr)
        self.assertEqual(read_bytes(os.path.join(self.stats, "counts.json")),
                         old)
        self.assertFalse(os.path.exists(os.path.join(self.root, "index.html")))

    def test_dotdot_inside_counts(self):
        write_log(self.log_path(), [
            download_line("192.0.2.1", "a/../inside.iso"),
            download_line("192.0.2.2", "pub/sub/../../pub/deep.iso"),
        ])
        files = self.run_ok()["files"]
        self.assertEqual(sorted(files), ["inside.iso", "pub/deep.iso"])

    def test_dotdot_escape_dropped(self):
        write_log(self.log_path(), [
            download_line("192.0.2.1", "kept.iso"),
            download_line("192.0.2.2", "../../etc/outside-1.iso"),
            download_line("192.0.2.3", "pub/../../outside-2.iso"),
            download_line("192.0.2.4", "%2e%2e/%2E%2E/outside-3.iso"),
        ])
        code, _out, err = run_main(self.base_args() + ["-v"])
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(read_counts(self.stats)["files"]),
                         ["kept.iso"])
        self.assertIn("download_stats: 3 malformed lines skipped, ", err)
        page = read_bytes(os.path.join(self.stats, "index.html"))
        self.assertNotIn(b"outside", page)

    def test_markup_key_escaped(self):
        write_log(self.log_path(), [
            download_line("192.0.2.1", "%3Cscript%3Ex.iso"),
            download_line("192.0.2.2", "<b>raw.iso"),
        ])
        files = self.run_ok()["files"]
        self.assertEqual(sorted(files), ["<b>raw.iso", "<script>x.iso"])
        page = os.path.join(self.stats, "index.html")
        self.assertNotIn(b"<script>x", read_bytes(page))
        self.assertNotIn(b"<b>raw", read_bytes(page))
        text, _hrefs = parse_page(page)
        self.assertIn("<script>x.iso", text)
        self.assertIn("<b>raw.iso", text)

    def test_markup_name_escaped(self):
        for name in ("<b>bold.iso", 'q"uote.iso'):
            write_bytes(os.path.join(self.root, name), b"data")
        write_log(self.log_path(), [])
        self.run_ok()
        page = os.path.join(self.root, "index.html")
        self.assertNotIn(b"<b>bold", read_bytes(page))
        text, hrefs = parse_page(page)
        self.assertIn("<b>bold.iso", text)
        self.assertIn('q"uote.iso', text)
        self.assertTrue(any(h.endswith("%3Cb%3Ebold.iso") for h in hrefs),
                        hrefs)
        self.assertTrue(any(h.endswith("q%22uote.iso") for h in hrefs), hrefs)


if __name__ == "__main__":
    unittest.main()
