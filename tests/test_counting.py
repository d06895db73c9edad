"""Tests for what counts as a download and for reading rotated logs."""

import gzip
import os
import random
import signal
import subprocess
import sys
import unittest

from support import (REPO, TreeTestCase, count_in_fresh_tree, day_counts,
                     download_stats, log_line, read_counts, run_main,
                     write_log)

DAY = "2026-10-10"


def encode_lines(lines):
    return b"".join(line.encode("utf-8") + b"\n" for line in lines)


class RequestFilterTest(TreeTestCase):

    def test_status_filter(self):
        statuses = [200, 206, 204, 301, 302, 304, 400, 403, 404, 408, 416,
                    500, 503]
        write_log(self.log_path(), [
            log_line(target="/s%d.iso" % status, status=status)
            for status in statuses])
        days = day_counts(self.run_ok())
        self.assertEqual(days, {"s200.iso": {DAY: 1}, "s206.iso": {DAY: 1}})

    def test_method_filter(self):
        methods = ["GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE", "PATCH",
                   "get", "head", "Get"]
        write_log(self.log_path(), [
            log_line(target="/m_%s.iso" % method, method=method)
            for method in methods])
        days = day_counts(self.run_ok())
        self.assertEqual(days, {"m_GET.iso": {DAY: 1}, "m_HEAD.iso": {DAY: 1}})

    def test_head_without_body_counted(self):
        write_log(self.log_path(), [
            log_line(method="HEAD", size="-", fmt="common"),
            log_line(ip="192.0.2.2", method="HEAD", size="-"),
        ])
        self.assertEqual(day_counts(self.run_ok()), {"x.iso": {DAY: 2}})

    def test_head_then_get_one_download(self):
        write_log(self.log_path(), [
            log_line(method="HEAD", time="10/Oct/2026:12:00:00 +0000"),
            log_line(method="GET", time="10/Oct/2026:12:00:01 +0000"),
        ])
        self.assertEqual(day_counts(self.run_ok()), {"x.iso": {DAY: 1}})

    def test_ranges_one_client_one_download(self):
        lines = [log_line(status=206, time="10/Oct/2026:%02d:%02d:00 +0000"
                          % (hour, minute))
                 for hour in range(0, 24, 3) for minute in (0, 29)]
        lines.append(log_line(status=200))
        write_log(self.log_path(), lines)
        self.assertEqual(day_counts(self.run_ok()), {"x.iso": {DAY: 1}})

    def test_ranges_summary_counts(self):
        lines = []
        for ip in ("192.0.2.1", "2001:db8::1"):
            lines += [log_line(ip=ip, status=206) for _ in range(12)]
        lines.append(log_line(status=404))
        write_log(self.log_path(), lines)
        code, out, err = run_main(self.base_args() + ["-v"])
        self.assertEqual(code, 0)
        self.assertIn("download_stats: 24 counted requests, 2 downloads",
                      err.splitlines())

    def test_clients_and_files_distinct(self):
        write_log(self.log_path(), [
            log_line(ip="192.0.2.1", target="/a.iso"),
            log_line(ip="192.0.2.2", target="/a.iso"),
            log_line(ip="192.0.2.1", target="/b.iso"),
            log_line(ip="192.0.2.1", target="/a.iso"),
        ])
        self.assertEqual(day_counts(self.run_ok()),
                         {"a.iso": {DAY: 2}, "b.iso": {DAY: 1}})

    def test_request_without_target_ignored(self):
        write_log(self.log_path(), [
            '192.0.2.1 - - [10/Oct/2026:12:00:00 +0000] "-" 408 -',
            log_line(target="/x.iso"),
        ])
        self.assertEqual(day_counts(self.run_ok()), {"x.iso": {DAY: 1}})


class ExtensionTest(TreeTestCase):

    TARGETS = ["/x.iso", "/x.img", "/Y.IMG", "/ximg", "/x.iso.md5", "/x.txt",
               "/x.img.sha256"]

    # (--extension values, keys counted)
    ROWS = [
        ([], {"x.iso"}),
        ([".img"], {"x.img", "Y.IMG"}),
        (["img"], {"x.img", "Y.IMG"}),
        ([".IMG"], {"x.img", "Y.IMG"}),
        ([".iso", ".img"], {"x.iso", "x.img", "Y.IMG"}),
        (["iso", "IMG"], {"x.iso", "x.img", "Y.IMG"}),
        ([".md5"], {"x.iso.md5"}),
    ]

    def test_extension_option(self):
        lines = [log_line(target=target) for target in self.TARGETS]
        for extensions, keys in self.ROWS:
            argv = []
            for extension in extensions:
                argv += ["--extension", extension]
            with self.subTest(extensions=extensions):
                counts = count_in_fresh_tree(self, lines, *argv)
                expected = {key: {DAY: 1} for key in keys}
                self.assertEqual(day_counts(counts), expected)


class ChunkBoundaryTest(TreeTestCase):
    """Lines split between two chunks of text, with small chunks."""

    def setUp(self):
        super().setUp()
        saved = download_stats.TEXT_CHUNK_BYTES
        download_stats.TEXT_CHUNK_BYTES = 4096
        self.addCleanup(setattr, download_stats, "TEXT_CHUNK_BYTES", saved)

    def test_encoded_extension_split(self):
        # The first chunk of a plain file is its first MAGIC_BYTES bytes,
        # then chunks of 4096 follow, so the "%" of "%2E" ends chunk two.
        line = log_line(target="/lv%2Eiso")
        filler_size = (4096 + download_stats.MAGIC_BYTES
                       - line.index("%2E") - 1)
        with open(self.log_path(), "wb") as file:
            file.write(b"#" * (filler_size - 1) + b"\n")
            file.write(line.encode("ascii") + b"\n")
        self.assertEqual(day_counts(self.run_ok()), {"lv.iso": {DAY: 1}})

    def test_plain_lines_split(self):
        # 300 lines of about 100 bytes cross seven chunk boundaries.
        lines = [log_line(ip="192.0.2.%d" % (n % 250 + 1), target="/a.iso")
                 for n in range(300)]
        write_log(self.log_path(), lines)
        self.assertEqual(day_counts(self.run_ok()), {"a.iso": {DAY: 250}})


class RotatedLogTest(TreeTestCase):

    def test_rotated_set(self):
        # Each file covers its own day with its own number of clients.
        plan = [
            ("access.log", "a.iso", 14, 3, False),
            ("access.log.1", "b.iso", 13, 2, False),
            ("access.log.2.gz", "c.iso", 12, 4, True),
            ("access.log.3.gz", "d.iso", 11, 1, True),
        ]
        for name, key, day, clients, compress in plan:
            lines = [log_line(ip="192.0.2.%d" % (i + 1), target="/" + key,
                              time="%02d/Oct/2026:08:00:00 +0000" % day)
                     for i in range(clients)]
            write_log(self.log_path(name), lines, compress=compress)
        self.assertEqual(day_counts(self.run_ok()), {
            "a.iso": {"2026-10-14": 3},
            "b.iso": {"2026-10-13": 2},
            "c.iso": {"2026-10-12": 4},
            "d.iso": {"2026-10-11": 1},
        })

    def write_split_day(self):
        """Write one client's day in three files and one more client in .1."""
        same = log_line(ip="192.0.2.1", time="10/Oct/2026:23:59:00 +0000")
        write_log(self.log_path("access.log"), [same])
        write_log(self.log_path("access.log.1"), [
            same, log_line(ip="192.0.2.2", time="10/Oct/2026:08:00:00 +0000")])
        write_log(self.log_path("access.log.2.gz"), [same], compress=True)

    def test_day_split_across_files(self):
        self.write_split_day()
        self.assertEqual(day_counts(self.run_ok()), {"x.iso": {DAY: 2}})

    def test_split_day_with_workers(self):
        # A child process runs main() 100 times, so a run that hangs in the
        # worker pool fails the test after the timeout instead of blocking
        # the suite. The new session lets the test kill stuck workers too.
        self.write_split_day()
        code = (
            "import sys; sys.path.insert(0, %r); import download_stats\n"
            "for _ in range(100):\n"
            "    assert download_stats.main(%r) == 0\n"
            % (REPO, self.base_args() + ["--jobs", "3"]))
        child = subprocess.Popen([sys.executable, "-c", code],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 start_new_session=True)
        try:
            out, err = child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            self.fail("100 runs with --jobs 3 did not finish in 20 s")
        self.assertEqual((child.returncode, out, err), (0, b"", b""))
        counts = read_counts(self.stats)
        self.assertEqual(day_counts(counts), {"x.iso": {DAY: 2}})

    def write_misnamed_files(self):
        write_log(self.log_path("access.log.2.gz"),
                  [log_line(target="/plain-named-gz.iso")])
        write_log(self.log_path("access.log.3"),
                  [log_line(target="/gzip-named-plain.iso")], compress=True)

    def test_gzip_detected_by_content(self):
        self.write_misnamed_files()
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0)
        self.assertEqual(day_counts(read_counts(self.stats)), {
            "plain-named-gz.iso": {DAY: 1},
            "gzip-named-plain.iso": {DAY: 1},
        })

    def test_misnamed_gzip_warns_once(self):
        # A plain file named .gz is read, but it is worth a word: logrotate
        # is meant to compress it.  A gzip file without .gz is not.
        self.write_misnamed_files()
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0)
        self.assertEqual(err.splitlines(), [
            "download_stats: warning: %s is not gzip-compressed; it was"
            " read as plain text" % self.log_path("access.log.2.gz")])

    def test_multi_member_gzip(self):
        first = gzip.compress(encode_lines([log_line(target="/a.iso")]))
        second = gzip.compress(encode_lines([log_line(target="/b.iso")]))
        with open(self.log_path("access.log.2.gz"), "wb") as file:
            file.write(first + second)
        self.assertEqual(day_counts(self.run_ok()),
                         {"a.iso": {DAY: 1}, "b.iso": {DAY: 1}})

    def test_truncated_gzip_warns(self):
        first = gzip.compress(encode_lines([
            log_line(ip="192.0.2.%d" % i, target="/a.iso")
            for i in range(1, 6)]))
        # Random client addresses keep the second member from compressing
        # to a few bytes, so the cut falls inside its deflate data.
        rng = random.Random(7)
        second = gzip.compress(encode_lines([
            log_line(ip="198.51.100.%d" % rng.randrange(256),
                     target="/b%d.iso" % rng.randrange(10 ** 6))
            for _ in range(400)]))
        with open(self.log_path("access.log.2.gz"), "wb") as file:
            file.write(first + second[:len(second) // 2])
        write_log(self.log_path("access.log"), [log_line(target="/c.iso")])
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0)
        self.assertEqual(out, "")
        warnings = err.splitlines()
        self.assertEqual(len(warnings), 1)
        self.assertTrue(warnings[0].startswith("download_stats: warning: "))
        days = day_counts(read_counts(self.stats))
        self.assertEqual(days.get("a.iso"), {DAY: 5})
        self.assertEqual(days.get("c.iso"), {DAY: 1})

    def test_directory_matching_pattern_warns(self):
        os.mkdir(self.log_path("access.log.old"))
        write_log(self.log_path("access.log"), [log_line()])
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0)
        self.assertEqual(out, "")
        warnings = err.splitlines()
        self.assertEqual(len(warnings), 1)
        self.assertTrue(warnings[0].startswith("download_stats: warning: "))
        self.assertEqual(day_counts(read_counts(self.stats)),
                         {"x.iso": {DAY: 1}})


if __name__ == "__main__":
    unittest.main()
