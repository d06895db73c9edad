"""The README's quick start on the bundled sample logs."""

import datetime
import gzip
import os
import shutil
import tempfile
import unittest

from support import REPO, read_counts, run_script

SAMPLE = os.path.join(REPO, "tests", "sample")


def sample_lines():
    """Yield the text lines of the three bundled logs."""
    logs = os.path.join(SAMPLE, "logs")
    for name in sorted(os.listdir(logs)):
        path = os.path.join(logs, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="ascii") as file:
            yield from file.read().splitlines()


def expected_days():
    """Count the sample by a rule simple enough to check by eye.

    The sample holds only combined lines in +0000, with plain paths, so the
    UTC day is the date in the timestamp and the key is the path.
    """
    clients = {}
    for line in sample_lines():
        fields = line.split(" ")
        client, stamp, method, path, status = (
            fields[0], fields[3][1:12], fields[5][1:], fields[6], fields[8])
        if method in ("GET", "HEAD") and status in ("200", "206") and (
                path.endswith(".iso")):
            day = datetime.datetime.strptime(stamp, "%d/%b/%Y").date()
            clients.setdefault((path[1:], day.isoformat()), set()).add(client)
    days = {}
    for (key, day), group in clients.items():
        days.setdefault(key, {})[day] = len(group)
    return days


class QuickStartTest(unittest.TestCase):

    def test_sample_counts_and_pages(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        root = os.path.join(tmp, "download-stats-demo")
        shutil.copytree(os.path.join(SAMPLE, "root"), root)
        pattern = os.path.join(SAMPLE, "logs", "downloads-ssl-access.log*")
        result = run_script(["--logs", pattern, "--root", root])
        self.assertEqual((result.returncode, result.stdout, result.stderr),
                         (0, "", ""))
        files = read_counts(os.path.join(root, ".stats"))["files"]
        self.assertEqual({key: entry["days"] for key, entry in files.items()},
                         expected_days())
        self.assertTrue(os.path.isfile(os.path.join(root, "index.html")))
        self.assertTrue(os.path.isfile(
            os.path.join(root, ".stats", "index.html")))

    def test_sample_has_every_kind(self):
        # The expected count would prove little on a sample without
        # resumed downloads, HEADs and requests that do not count.
        lines = list(sample_lines())
        for needle in ('"HEAD ', '" 206 ', '" 304 ', '" 404 ', "/index.html"):
            with self.subTest(needle):
                self.assertTrue(any(needle in line for line in lines))


if __name__ == "__main__":
    unittest.main()
