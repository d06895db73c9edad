"""Shared helpers for the tests: log lines, log files and script runs."""

import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = os.path.join(REPO, "download_stats.py")

if REPO not in sys.path:
    sys.path.insert(0, REPO)

import download_stats  # noqa: E402

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def apache_time(year, month, day, hour=12, minute=0, second=0,
                offset="+0000"):
    """Format a timestamp the way Apache's %t does, without brackets."""
    return "%02d/%s/%04d:%02d:%02d:%02d %s" % (
        day, MONTHS[month - 1], year, hour, minute, second, offset)


def log_line(ip="192.0.2.1", target="/x.iso", method="GET", status=200,
             time="10/Oct/2026:12:00:00 +0000", size=1024,
             fmt="combined", vhost="downloads.example.org:443",
             protocol="HTTP/1.1", referer="-", agent="curl/8.5.0"):
    """Build one access log line in the given LogFormat nickname.

    `target` and `agent` are written as given, so a caller who wants an
    Apache escape such as \\" puts it in the string itself.
    """
    request = "%s %s %s" % (method, target, protocol) if protocol else (
        "%s %s" % (method, target))
    common = '%s - - [%s] "%s" %s %s' % (ip, time, request, status, size)
    if fmt == "common":
        return common
    combined = '%s "%s" "%s"' % (common, referer, agent)
    if fmt == "combined":
        return combined
    if fmt == "vhost_combined":
        return "%s %s" % (vhost, combined)
    raise ValueError("unknown format %r" % fmt)


def write_log(path, lines, compress=False):
    """Write lines (str or bytes) to path, one per line, gzipped if asked."""
    data = b"".join(
        (line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n"
        for line in lines)
    if compress:
        data = gzip.compress(data)
    with open(path, "wb") as file:
        file.write(data)


def run_main(argv):
    """Call download_stats.main(argv) and return (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = download_stats.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def run_script(argv, env=None, **kwargs):
    """Run download_stats.py in a child process as cron would."""
    return subprocess.run(
        [sys.executable, SCRIPT] + list(argv), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def read_counts(stats_dir):
    with open(os.path.join(stats_dir, "counts.json"), encoding="utf-8") as f:
        return json.load(f)


class TreeTestCase(unittest.TestCase):
    """A test with a fresh temporary tree: logs/, root/ and root/.stats."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.logs = os.path.join(self.tmp, "logs")
        self.root = os.path.join(self.tmp, "root")
        self.stats = os.path.join(self.root, ".stats")
        os.mkdir(self.logs)
        os.mkdir(self.root)

    def log_path(self, name="access.log"):
        return os.path.join(self.logs, name)

    def base_args(self):
        return ["--logs", os.path.join(self.logs, "access.log*"),
                "--root", self.root, "--jobs", "1"]

    def run_ok(self, *extra):
        """Run main() on this tree, assert exit 0 and silence, return counts."""
        code, out, err = run_main(self.base_args() + list(extra))
        self.assertEqual((code, out, err), (0, "", ""))
        return read_counts(self.stats)


def day_counts(counts):
    """Return {key: {"YYYY-MM-DD": n}} from a counts.json object."""
    return {key: entry.get("days", {})
            for key, entry in counts["files"].items()}


def month_counts(counts):
    """Return {key: {"YYYY-MM": n}} from a counts.json object."""
    return {key: entry.get("months", {})
            for key, entry in counts["files"].items()}


def count_in_fresh_tree(test, lines, *extra):
    """Run main() on a new tree under test.tmp whose only log contains lines.

    Asserts exit 0 and silence, then returns the counts.json object. Tests
    use it to give each subTest row its own history.
    """
    base = tempfile.mkdtemp(dir=test.tmp)
    logs = os.path.join(base, "logs")
    root = os.path.join(base, "root")
    os.mkdir(logs)
    os.mkdir(root)
    write_log(os.path.join(logs, "access.log"), lines)
    argv = ["--logs", os.path.join(logs, "access.log*"), "--root", root,
            "--jobs", "1"] + list(extra)
    code, out, err = run_main(argv)
    test.assertEqual((code, out, err), (0, "", ""))
    return read_counts(os.path.join(root, ".stats"))


@contextlib.contextmanager
def pinned_tz(value):
    """Set the TZ environment variable for the block, then restore it."""
    import time
    saved = os.environ.get("TZ")
    os.environ["TZ"] = value
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def merge_expected(history, downloads):
    """Return the "files" a run should write, from the merge rule.

    `history` is the stored "files" object and `downloads` an iterable of
    (ip, key, datetime.date). Each distinct triple counts once. A stored day
    keeps max(old, new), and a month keeps max(old month, sum of that
    month's stored days).
    """
    import collections
    import copy
    files = copy.deepcopy(history)
    per_day = collections.Counter(
        (key, day.isoformat()) for _ip, key, day in set(downloads))
    for (key, day), count in per_day.items():
        entry = files.setdefault(key, {"days": {}, "months": {}})
        entry["days"][day] = max(entry["days"].get(day, 0), count)
    for entry in files.values():
        sums = collections.Counter()
        for day, count in entry["days"].items():
            sums[day[:7]] += count
        for month, total in sums.items():
            entry["months"][month] = max(entry["months"].get(month, 0), total)
    return files
