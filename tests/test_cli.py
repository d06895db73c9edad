"""Tests for the command line: output, options, exit codes and a cron run."""

import fcntl
import json
import os
import re
import unittest

from support import (TreeTestCase, day_counts, log_line, read_counts,
                     run_main, run_script, write_log)

DAY = "2026-10-10"


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


class OutputTest(TreeTestCase):

    def write_two_files(self):
        """Write 8 lines: 4 counted requests, 3 downloads, 2 malformed."""
        write_log(self.log_path("access.log"), [
            log_line(ip="192.0.2.1", target="/a.iso"),
            "not a log line",
            log_line(ip="192.0.2.1", target="/a.iso", method="HEAD"),
            log_line(ip="192.0.2.1", target="/../x.iso"),
            log_line(ip="192.0.2.1", target="/a.iso", method="POST"),
        ])
        write_log(self.log_path("access.log.1"), [
            log_line(ip="192.0.2.2", target="/a.iso"),
            log_line(ip="192.0.2.1", target="/b.iso", status=206),
            log_line(ip="192.0.2.1", target="/b.txt"),
        ])

    def malformed_line(self, count, lineno, text):
        """Return the summary line of malformed lines, quoting the first."""
        return ('download_stats: %d malformed lines skipped, first: %s line'
                ' %d: "%s"' % (count, self.log_path("access.log"), lineno,
                               text))

    def test_success_silent(self):
        self.write_two_files()
        code, out, err = run_main(self.base_args())
        self.assertEqual(code, 0)
        self.assertEqual(out, "")
        self.assertEqual(err, "")

    def test_verbose_summary(self):
        self.write_two_files()
        code, out, err = run_main(self.base_args() + ["-v"])
        self.assertEqual(code, 0)
        self.assertEqual(out, "")
        lines = err.splitlines()
        self.assertEqual(len(lines), 4)
        self.assertEqual(lines[0], "download_stats: read 2 log files, 8 lines")
        self.assertEqual(lines[1],
                         "download_stats: 4 counted requests, 3 downloads")
        self.assertEqual(lines[2],
                         self.malformed_line(2, 2, "not a log line"))
        self.assertTrue(lines[3].startswith("download_stats: wrote "))
        self.assertIn("counts.json", lines[3])
        self.assertIn("index.html", lines[3])

    def test_verbose_skipped_file_singular(self):
        # An xz file is skipped with a warning and not counted as read.
        write_log(self.log_path("access.log"), [
            log_line(ip="192.0.2.1", target="/a.iso")])
        with open(self.log_path("access.log.2.xz"), "wb") as file:
            file.write(b"\xfd7zXZ\x00\x00\x04")
        code, out, err = run_main(self.base_args() + ["-v"])
        self.assertEqual(code, 0)
        lines = err.splitlines()
        self.assertEqual(len(lines), 4)
        self.assertIn("access.log.2.xz is compressed with xz", lines[0])
        self.assertEqual(lines[1], "download_stats: read 1 log file, 1 line")
        self.assertEqual(lines[2],
                         "download_stats: 1 counted request, 1 download")

    def test_verbose_counts_stored(self):
        self.write_two_files()
        run_main(self.base_args() + ["-v"])
        self.assertEqual(day_counts(read_counts(self.stats)),
                         {"a.iso": {DAY: 2}, "b.iso": {DAY: 1}})

    def test_dry_run_writes_nothing(self):
        self.write_two_files()
        code, out, err = run_main(self.base_args() + ["--dry-run"])
        self.assertEqual(code, 0)
        self.assertEqual(err, "")
        self.assertEqual(os.listdir(self.root), [])
        lines = out.splitlines()
        self.assertIn("download_stats: read 2 log files, 8 lines", lines)
        self.assertIn("download_stats: 4 counted requests, 3 downloads",
                      lines)
        self.assertFalse(any(line.startswith("download_stats: wrote")
                             for line in lines))

    def test_dry_run_keeps_counts(self):
        os.mkdir(self.stats)
        counts_path = os.path.join(self.stats, "counts.json")
        original = json.dumps({"a.iso": {"2026-05": 40}}).encode()
        with open(counts_path, "wb") as file:
            file.write(original)
        self.write_two_files()
        code, out, err = run_main(self.base_args() + ["--dry-run"])
        self.assertEqual(code, 0)
        self.assertEqual(read_bytes(counts_path), original)
        self.assertEqual(os.listdir(self.stats), ["counts.json"])
        self.assertEqual(os.listdir(self.root), [".stats"])

    def test_version(self):
        code, out, err = run_main(["--version"])
        self.assertEqual(code, 0)
        self.assertRegex(out, r"\d")
        self.assertEqual(err, "")


class UsageTest(TreeTestCase):

    def test_usage_errors(self):
        rows = [
            ["--bogus"],
            ["--jobs", "x"],
            ["--lock-timeout", "soon"],
            ["stray-argument"],
            ["--logs"],
        ]
        for extra in rows:
            with self.subTest(argv=extra):
                code, out, err = run_main(self.base_args() + extra)
                self.assertEqual(code, 2)
                self.assertEqual(out, "")
                self.assertIn("usage:", err)
                self.assertEqual(os.listdir(self.root), [])

    def test_missing_root(self):
        missing = os.path.join(self.tmp, "no-such-root")
        write_log(self.log_path(), [log_line()])
        code, out, err = run_main(["--logs", self.log_path(), "--root",
                                   missing, "--jobs", "1"])
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        lines = err.splitlines()
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("download_stats: error: "))
        self.assertIn(missing, lines[0])
        self.assertFalse(os.path.exists(missing))


class OptionTest(TreeTestCase):

    HISTORY = {"schema": 2, "generated": "2026-05-21T01:00:00Z",
               "files": {"a.iso": {"days": {"2026-05-20": 3},
                                   "months": {"2026-05": 3}}}}

    def write_history(self):
        os.mkdir(self.stats)
        with open(os.path.join(self.stats, "counts.json"), "w") as file:
            json.dump(self.HISTORY, file)

    def test_no_matching_log_keeps_history(self):
        self.write_history()
        pattern = os.path.join(self.logs, "nothing-here.log*")
        code, out, err = run_main(["--logs", pattern, "--root", self.root,
                                   "--jobs", "1"])
        self.assertEqual(code, 0)
        self.assertEqual(read_counts(self.stats)["files"],
                         self.HISTORY["files"])
        self.assertTrue(os.path.isfile(os.path.join(self.root, "index.html")))
        self.assertTrue(
            os.path.isfile(os.path.join(self.stats, "index.html")))

    def test_no_matching_log_verbose(self):
        pattern = os.path.join(self.logs, "nothing-here.log*")
        code, out, err = run_main(["--logs", pattern, "--root", self.root,
                                   "--jobs", "1", "-v"])
        self.assertEqual(code, 0)
        self.assertIn("download_stats: no log file matches %s" % pattern,
                      err.splitlines())

    def test_stats_dir_option(self):
        stats = os.path.join(self.tmp, "stats")
        write_log(self.log_path(), [log_line()])
        code, out, err = run_main(self.base_args() + ["--stats-dir", stats])
        self.assertEqual((code, out, err), (0, "", ""))
        self.assertEqual(day_counts(read_counts(stats)), {"x.iso": {DAY: 1}})
        self.assertFalse(os.path.exists(self.stats))

    def test_lock_timeout(self):
        self.write_history()
        write_log(self.log_path(), [log_line()])
        counts_path = os.path.join(self.stats, "counts.json")
        original = read_bytes(counts_path)
        # flock locks belong to the open file description, so this lock
        # blocks the run even though it is in the same process.
        with open(counts_path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            code, out, err = run_main(self.base_args()
                                      + ["--lock-timeout", "1"])
        self.assertEqual(code, 1)
        lines = err.splitlines()
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("download_stats: error: "))
        self.assertEqual(read_bytes(counts_path), original)


class CronRunTest(TreeTestCase):
    """Run the script in a child process with cron's bare environment."""

    def test_script_as_cron(self):
        write_log(self.log_path("access.log"), [
            log_line(ip="2001:db8::1", target="/caf%C3%A9.iso",
                     time="10/Oct/2026:23:55:36 -0700", fmt="common"),
            log_line(ip="192.0.2.1", target="/releases//lv%2D1.iso?m=3",
                     fmt="vhost_combined"),
        ])
        write_log(self.log_path("access.log.1"), [
            log_line(ip="192.0.2.1", target="/releases/lv-1.iso",
                     status=206),
            log_line(ip="192.0.2.2", target="/releases/lv-1.iso",
                     method="HEAD"),
        ])
        write_log(self.log_path("access.log.2.gz"), [
            log_line(ip="192.0.2.3", target="/releases/lv-1.iso",
                     time="09/Oct/2026:12:00:00 +0000"),
        ], compress=True)
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp,
               "SHELL": "/bin/sh", "LOGNAME": "root", "TZ": "ABC+10"}
        result = run_script(
            ["--logs", os.path.join(self.logs, "access.log*"),
             "--root", self.root], env=env, cwd="/", timeout=60)
        self.assertEqual(result.returncode, 0)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, "")
        self.assertEqual(day_counts(read_counts(self.stats)), {
            "caf\u00e9.iso": {"2026-10-11": 1},
            "releases/lv-1.iso": {"2026-10-09": 1, DAY: 2},
        })

    def test_script_version(self):
        result = run_script(["--version"], timeout=60)
        self.assertEqual(result.returncode, 0)
        self.assertTrue(re.search(r"\d", result.stdout))


if __name__ == "__main__":
    unittest.main()
