"""Tests for reading access log lines: formats, escapes, targets and days."""

import unittest

from support import (TreeTestCase, count_in_fresh_tree, day_counts, log_line,
                     month_counts, pinned_tz, read_counts, run_main,
                     write_log)

DAY = "2026-10-10"


class FormatTest(TreeTestCase):

    def test_formats_mixed_in_one_file(self):
        write_log(self.log_path(), [
            log_line(ip="192.0.2.1", target="/common.iso", fmt="common"),
            log_line(ip="192.0.2.2", target="/combined.iso", fmt="combined"),
            log_line(ip="192.0.2.3", target="/vhost.iso",
                     fmt="vhost_combined"),
            log_line(ip="192.0.2.5", target="/vhost.iso",
                     fmt="vhost_combined"),
            # The same client in two formats is one download, so a parser
            # that took the vhost field for the client would count 3 here.
            log_line(ip="192.0.2.4", target="/common.iso",
                     fmt="vhost_combined"),
            log_line(ip="192.0.2.4", target="/common.iso", fmt="common"),
        ])
        days = day_counts(self.run_ok())
        self.assertEqual(days, {
            "common.iso": {DAY: 2},
            "combined.iso": {DAY: 1},
            "vhost.iso": {DAY: 2},
        })

    def test_ipv6_clients_each_format(self):
        lines = []
        for fmt in ("common", "combined", "vhost_combined"):
            target = "/%s.iso" % fmt
            lines.append(log_line(ip="2001:db8::1", target=target, fmt=fmt))
            lines.append(log_line(ip="2001:db8::2", target=target, fmt=fmt))
            lines.append(log_line(ip="2001:db8::1", target=target, fmt=fmt))
            lines.append(log_line(ip="::ffff:192.0.2.9", target=target,
                                  fmt=fmt))
        write_log(self.log_path(), lines)
        days = day_counts(self.run_ok())
        for fmt in ("common", "combined", "vhost_combined"):
            with self.subTest(fmt=fmt):
                self.assertEqual(days.get("%s.iso" % fmt), {DAY: 3})

    def test_ipv4_and_ipv6_distinct(self):
        write_log(self.log_path(), [
            log_line(ip="2001:db8::1", fmt="common"),
            log_line(ip="2001:db8::10", fmt="common"),
            log_line(ip="192.0.2.1", fmt="common"),
        ])
        self.assertEqual(day_counts(self.run_ok()), {"x.iso": {DAY: 3}})


class EscapeTest(TreeTestCase):
    """Apache writes " as \\", \\ as \\\\ and other bytes as \\xhh."""

    def test_escapes_in_user_agent(self):
        agents = [
            r'Mozilla \"quoted\" C:\\dir',
            r'bell \x07 and \xff',
            r'ends with backslash\\',
            r'\"',
            r'\\\"\\',
        ]
        lines = [log_line(ip="192.0.2.%d" % (i + 1), agent=agent)
                 for i, agent in enumerate(agents)]
        lines.append(log_line(ip="192.0.2.50", agent="x",
                              referer=r'http://example.org/?q=\"x\"',
                              fmt="vhost_combined"))
        write_log(self.log_path(), lines)
        self.assertEqual(day_counts(self.run_ok()),
                         {"x.iso": {DAY: len(agents) + 1}})

    def test_escapes_in_request(self):
        rows = [
            (r'/q.iso?x=\"y\"', "q.iso"),
            (r'/say\"hi\".iso', 'say"hi".iso'),
            (r'/back\\slash.iso', "back\\slash.iso"),
            (r'/q.iso?p=a\\b', "q.iso"),
            (r'/caf\xc3\xa9.iso', "caf\u00e9.iso"),
        ]
        for fmt in ("common", "combined", "vhost_combined"):
            for target, key in rows:
                with self.subTest(fmt=fmt, target=target):
                    counts = count_in_fresh_tree(
                        self, [log_line(target=target, fmt=fmt)])
                    self.assertEqual(day_counts(counts), {key: {DAY: 1}})

    def test_raw_utf8_equals_percent_form(self):
        write_log(self.log_path(), [
            log_line(ip="192.0.2.1", target=r"/caf\xc3\xa9.iso"),
            log_line(ip="192.0.2.2", target="/caf%C3%A9.iso"),
            log_line(ip="192.0.2.2", target=r"/caf\xc3\xa9.iso"),
        ])
        self.assertEqual(day_counts(self.run_ok()),
                         {"caf\u00e9.iso": {DAY: 2}})

    def test_control_byte_escape_dropped(self):
        counts = count_in_fresh_tree(self, [log_line(target=r"/a\x01.iso")])
        self.assertEqual(day_counts(counts), {})


class TargetTest(TreeTestCase):
    """Request target to key: each row is one line in a fresh tree."""

    ROWS = [
        ("/releases//lv%2D1.iso?mirror=3", "releases/lv-1.iso"),
        ("/x.iso?a=1&b=2", "x.iso"),
        ("/x.iso?", "x.iso"),
        ("/x.iso?f=a.txt", "x.iso"),
        ("/caf%C3%A9.iso", "caf\u00e9.iso"),
        ("/caf%c3%a9.iso", "caf\u00e9.iso"),
        ("/d/%E6%97%A5.iso", "d/\u65e5.iso"),
        ("/a+b.iso", "a+b.iso"),
        ("/sp%20ace.iso", "sp ace.iso"),
        ("/x%2Eiso", "x.iso"),
        ("/%41.iso", "A.iso"),
        ("/a/./b/../x.iso", "a/x.iso"),
        ("/./x.iso", "x.iso"),
        ("//a///b.iso", "a/b.iso"),
        ("/a/b/c/../../x.iso", "a/x.iso"),
        ("/a/%2e%2e/b.iso", "b.iso"),
        ("http://downloads.example.org/x.iso", "x.iso"),
        ("https://downloads.example.org:443/d/y.iso?z=1", "d/y.iso"),
        ("http://downloads.example.org//d//./y.iso", "d/y.iso"),
        ("/X.ISO", "X.ISO"),
        ("/x.Iso", "x.Iso"),
        ("/x.iso.sha256", None),
        ("/x.txt?f=a.iso", None),
        ("/x.isox", None),
        ("/xiso", None),
        ("/", None),
        ("/../x.iso", None),
        ("/a/../../x.iso", None),
        ("/%2e%2e/x.iso", None),
        ("/%zz.iso", None),
        ("/x%2.iso", None),
        ("/%C3%28.iso", None),
        ("/a%00.iso", None),
        ("/a%0A.iso", None),
        ("/a%1B.iso", None),
    ]

    def test_target_to_key(self):
        for target, key in self.ROWS:
            with self.subTest(target=target):
                counts = count_in_fresh_tree(self, [log_line(target=target)])
                expected = {key: {DAY: 1}} if key else {}
                self.assertEqual(day_counts(counts), expected)

    def test_key_case_preserved(self):
        write_log(self.log_path(), [
            log_line(target="/X.ISO"),
            log_line(target="/x.iso"),
        ])
        self.assertEqual(day_counts(self.run_ok()),
                         {"X.ISO": {DAY: 1}, "x.iso": {DAY: 1}})

    def test_target_forms_share_key(self):
        targets = ["/releases/lv-1.iso", "/releases//lv%2D1.iso?mirror=3",
                   "/releases/./lv-1.iso",
                   "http://downloads.example.org/releases/lv-1.iso"]
        write_log(self.log_path(), [
            log_line(ip="192.0.2.%d" % (i + 1), target=target)
            for i, target in enumerate(targets)])
        self.assertEqual(day_counts(self.run_ok()),
                         {"releases/lv-1.iso": {DAY: 4}})


class DayTest(TreeTestCase):
    """%t to UTC day, with the local time zone pinned to values far from UTC."""

    # (timestamp as Apache writes it, UTC day worked out by hand)
    ROWS = [
        ("10/Oct/2026:12:00:00 +0000", "2026-10-10"),
        ("10/Oct/2026:23:55:36 -0700", "2026-10-11"),
        ("10/Oct/2026:16:59:59 -0700", "2026-10-10"),
        ("10/Oct/2026:17:00:00 -0700", "2026-10-11"),
        ("11/Oct/2026:05:29:59 +0530", "2026-10-10"),
        ("11/Oct/2026:05:30:00 +0530", "2026-10-11"),
        ("11/Oct/2026:00:10:00 +0530", "2026-10-10"),
        ("10/Oct/2026:23:50:00 +0530", "2026-10-10"),
        ("01/Nov/2026:02:00:00 +0530", "2026-10-31"),
        ("31/Oct/2026:20:00:00 -0500", "2026-11-01"),
        ("31/Dec/2026:23:30:00 -0100", "2027-01-01"),
        ("01/Jan/2027:00:10:00 +0100", "2026-12-31"),
        ("28/Feb/2024:23:00:00 -0200", "2024-02-29"),
        ("28/Feb/2025:23:00:00 -0200", "2025-03-01"),
        ("01/Mar/2024:00:30:00 +0100", "2024-02-29"),
        ("10/Oct/2026:12:00:00 +1400", "2026-10-09"),
        ("10/Oct/2026:01:00:00 +1245", "2026-10-09"),
        ("09/Oct/2026:14:00:00 -1000", "2026-10-10"),
    ]

    # POSIX TZ strings need no tz database: "ABC+10" is UTC-10.
    ZONES = ["UTC0", "ABC+10", "XYZ-14"]

    def test_timestamp_to_utc_day(self):
        lines = [log_line(target="/t%02d.iso" % i, time=time)
                 for i, (time, _) in enumerate(self.ROWS)]
        for zone in self.ZONES:
            with pinned_tz(zone):
                counts = count_in_fresh_tree(self, lines)
            days = day_counts(counts)
            months = month_counts(counts)
            for i, (time, day) in enumerate(self.ROWS):
                key = "t%02d.iso" % i
                with self.subTest(zone=zone, time=time):
                    self.assertEqual(days.get(key), {day: 1})
                with self.subTest(zone=zone, time=time, field="months"):
                    self.assertEqual(months.get(key), {day[:7]: 1})

    def test_same_client_two_utc_days(self):
        write_log(self.log_path(), [
            log_line(time="10/Oct/2026:23:00:00 +0000"),
            log_line(time="11/Oct/2026:01:00:00 +0000"),
        ])
        counts = self.run_ok()
        self.assertEqual(day_counts(counts),
                         {"x.iso": {"2026-10-10": 1, "2026-10-11": 1}})
        self.assertEqual(month_counts(counts), {"x.iso": {"2026-10": 2}})

    def test_same_local_date_two_utc_days(self):
        write_log(self.log_path(), [
            log_line(time="10/Oct/2026:10:00:00 -0700"),
            log_line(time="10/Oct/2026:23:30:00 -0700"),
        ])
        self.assertEqual(day_counts(self.run_ok()),
                         {"x.iso": {"2026-10-10": 1, "2026-10-11": 1}})

    def test_two_local_dates_one_utc_day(self):
        write_log(self.log_path(), [
            log_line(time="10/Oct/2026:23:30:00 +0000"),
            log_line(time="11/Oct/2026:01:00:00 +0200"),
        ])
        self.assertEqual(day_counts(self.run_ok()),
                         {"x.iso": {"2026-10-10": 1}})

    def test_invalid_timestamp_malformed(self):
        write_log(self.log_path(), [
            log_line(time="99/Foo/2026:25:61:00 +0000", target="/a.iso"),
            log_line(time="31/Feb/2026:12:00:00 +0000", target="/b.iso"),
            log_line(time="10/Oct/2026:24:00:00 +0000", target="/c.iso"),
            log_line(time="10/Oct/2026:12:00:00", target="/d.iso"),
            log_line(target="/x.iso"),
        ])
        code, out, err = run_main(self.base_args() + ["-v"])
        self.assertEqual(code, 0)
        self.assertEqual(day_counts(read_counts(self.stats)),
                         {"x.iso": {DAY: 1}})
        malformed = [line for line in err.splitlines() if "malformed" in line]
        self.assertEqual(len(malformed), 1)
        # The exact shape of this line is checked in test_cli.
        self.assertRegex(malformed[0], r"^download_stats: 4 malformed lines"
                         r" skipped, first: \S*access\.log line 1\b")


class MalformedTest(TreeTestCase):
    """Which lines the -v summary reports as malformed."""

    def malformed_summary(self, lines):
        write_log(self.log_path(), lines + [log_line(target="/x.iso")])
        code, out, err = run_main(self.base_args() + ["-v"])
        self.assertEqual(code, 0)
        self.assertEqual(day_counts(read_counts(self.stats)),
                         {"x.iso": {DAY: 1}})
        return [line for line in err.splitlines() if "malformed" in line]

    def test_root_target_not_malformed(self):
        # The referer names an ISO file, so the line is not skipped unread.
        referer = "https://downloads.example.org/releases/x.iso"
        summary = self.malformed_summary([
            log_line(target="/", referer=referer),
            log_line(target="/a/..", referer=referer),
            log_line(target="http://downloads.example.org", referer=referer),
            "not a log line",
        ])
        self.assertEqual(len(summary), 1)
        self.assertRegex(summary[0], r"^download_stats: 1 malformed line"
                         r" skipped, first: \S*access\.log line 4\b")

    def test_bad_time_checked_for_counted_files(self):
        # Lines that name no counted extension are only checked for the
        # '] "' between time and request, so the .txt line passes.
        summary = self.malformed_summary([
            log_line(target="/a.txt", time="99/Foo/2026:25:61:00 +0000"),
            log_line(target="/b.iso", time="99/Foo/2026:25:61:00 +0000"),
        ])
        self.assertEqual(len(summary), 1)
        self.assertRegex(summary[0], r"^download_stats: 1 malformed line"
                         r" skipped, first: \S*access\.log line 2\b")

    def test_first_malformed_in_file_order(self):
        summary = self.malformed_summary([
            log_line(target="/b.iso", time="31/Feb/2026:12:00:00 +0000"),
            "not a log line",
        ])
        self.assertEqual(len(summary), 1)
        self.assertRegex(summary[0], r"^download_stats: 2 malformed lines"
                         r" skipped, first: \S*access\.log line 1\b")


if __name__ == "__main__":
    unittest.main()
