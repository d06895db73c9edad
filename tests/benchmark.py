#!/usr/bin/env python3
"""Benchmark download_stats.py on two weeks of generated Apache logs.

The benchmark generates a log set like the one logrotate keeps for a busy
download server: the live file access.log, the plain access.log.1 and the
gzipped access.log.2.gz .. access.log.14.gz. Rotation happens daily at
06:25 UTC, so every UTC day is split across two files. The 14 rotated files
cover 24 hours each and the live file covers the last 12 hours, which gives
about 14.5 x --lines-per-day lines (1.45 million at the default size).

The traffic is mostly in "combined" format, with some "vhost_combined" lines.
Timestamps are mostly +0000, with a few other offsets. About 30% of the
lines are ISO requests: full downloads (200), series of 206 Partial Content
requests from one client, HEADs, 304s, 404s and 416s. The other 70% are
pages, style sheets, images, checksum files, robots.txt, POSTs and scanner
probes. Apache writes a line when the request ends, but %t is the time the
request started, so the lines of long downloads appear late, sometimes in
the next file.

While generating, the benchmark records the expected result: the distinct
(ip, key, UTC day) triples of the counted lines (GET or HEAD, status 200 or
206, key ending with .iso), aggregated per (key, day).

It then measures, interleaved and with wall time:

- download_stats.py --logs 'DIR/access.log*' --root ROOT, with a fresh root
  and stats folder for each run, so each run starts from an empty history;
- zcat -f of the same files to /dev/null, which is the floor: decompressing
  and reading the files, with no parsing.

It prints the median wall time of --runs runs of each, their ratio, lines
per second, CPU time, the script's peak memory, the size of the log set and
the machine. It also prints the load average before and after the runs,
because other processes on the machine make the wall times longer. Every
run's counts.json must match the expected counts exactly. If one does not,
the differences are printed and the exit status is 1.

Usage:

    python3 tests/benchmark.py                  # 1.45M lines, 5 runs
    python3 tests/benchmark.py --scale 10       # 14.6M lines
    python3 tests/benchmark.py --scales 1,10 --runs 3
    python3 tests/benchmark.py --jobs 1 --keep /tmp/bench

With --scales, each size is generated, measured and deleted in turn, and a
table at the end shows lines per second for each size, so it is easy to see
whether the time grows linearly with the input. At --scale 10 the log set
takes about 0.5 GB of disk (2.8 GB decompressed), and the generator, which
keeps about two files' lines in memory, peaked at 1.1 GB of RSS (measured
with Python 3.11 on Linux). The generation time is printed but not part of
any measurement.
"""

import argparse
import bisect
import calendar
import concurrent.futures
import gzip
import json
import operator
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = os.path.join(REPO, "download_stats.py")

DAY = 86400
HOUR = 3600

# The oldest kept file starts at this rotation. The live file ends 12 hours
# after the last rotation, and requests that are still running then have
# not been logged yet.
FIRST_ROTATION = calendar.timegm((2026, 5, 6, 6, 25, 0))
ROTATED_FILES = 14
LIVE_SECONDS = 12 * HOUR
END_OF_LOGS = FIRST_ROTATION + ROTATED_FILES * DAY + LIVE_SECONDS
# Traffic starts this long before the first rotation, so the oldest file
# starts with the late lines of downloads that began in the deleted file.
WARMUP_SECONDS = 6 * HOUR
FIRST_SECOND = FIRST_ROTATION - WARMUP_SECONDS
FIRST_DAY = FIRST_SECOND - FIRST_SECOND % DAY
NUMBER_OF_DAYS = (END_OF_LOGS - FIRST_DAY) // DAY + 1

ISO_SHARE = 0.30
VHOST_SHARE = 0.10
IPV6_SHARE = 0.35
VHOST_PREFIX = "downloads.example.org:443 "
GZIP_LEVEL = 6  # the default level of gzip(1)

# Relative traffic per UTC hour (0 .. 23), with the peak in the European
# and American afternoon.
HOURLY_WEIGHTS = (
    0.55, 0.45, 0.40, 0.38, 0.40, 0.50, 0.65, 0.80, 0.95, 1.05, 1.10, 1.15,
    1.20, 1.30, 1.40, 1.45, 1.45, 1.40, 1.35, 1.30, 1.20, 1.00, 0.85, 0.70)
HOURLY_MEAN = sum(HOURLY_WEIGHTS) / len(HOURLY_WEIGHTS)

# (offset as written in %t, offset in seconds, cumulative weight).
OFFSETS = (
    ("+0000", 0, 0.95),
    ("+0200", 2 * HOUR, 0.965),
    ("+0100", HOUR, 0.975),
    ("-0700", -7 * HOUR, 0.985),
    ("+0530", 5 * HOUR + 30 * 60, 0.992),
    ("-0330", -(3 * HOUR + 30 * 60), 1.0),
)
OFFSET_CUMULATIVE = [weight for _, _, weight in OFFSETS]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 "
    "Firefox/124.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
    # Apache writes a quote inside a quoted field as \".
    'Mozilla/5.0 (compatible; \\"LinkChecker\\" 10.2)',
)
TOOL_AGENTS = ("Wget/1.21.4", "curl/8.5.0", "curl/7.81.0",
               "Wget/1.21.2", "Debian APT-HTTP/1.3 (2.7.14)")
RANGE_AGENTS = ("aria2/1.37.0", "aria2/1.36.0", "Axel/2.17.11 (Linux)",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
BOT_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "python-requests/2.31.0",
    "Mozilla/5.0 zgrab/0.x",
    "-",
)
SITE = "https://downloads.example.org"

VERSIONS = ("24.04", "24.10", "25.04", "25.10")
REMOVED_VERSIONS = ("22.04", "23.10")
# (edition, size in bytes of the amd64 image).
EDITIONS = (("desktop", 6_114_656_256), ("server", 2_754_981_888),
            ("netinst", 702_545_920), ("live", 3_281_797_120))
ARCHITECTURES = ("amd64", "arm64")


def build_catalog():
    """Return the ISO keys (most popular first), their sizes and removed keys."""
    keys, sizes = [], []
    for version in reversed(VERSIONS):
        for edition, size in EDITIONS:
            for architecture in ARCHITECTURES:
                keys.append("releases/%s/lv-%s-%s-%s.iso"
                            % (version, version, edition, architecture))
                scale = 0.92 if architecture == "arm64" else 1.0
                sizes.append(int(size * scale) // 2048 * 2048)
    removed = ["releases/%s/lv-%s-%s-amd64.iso" % (version, version, edition)
               for version in REMOVED_VERSIONS for edition, _ in EDITIONS]
    return keys, sizes, removed


def cumulative(weights):
    total, result = 0.0, []
    for weight in weights:
        total += weight
        result.append(total)
    return [value / total for value in result]


class Timestamps:
    """Apache %t strings for whole seconds, built from cached parts.

    Formatting every line's time with time.strftime would dominate the
    generation time, so the local time is built from a table of
    "dd/Mon/yyyy:HH:MM:" prefixes, one for every minute of the log period,
    and a table of "SS +zzzz" suffixes per offset. All offsets are whole
    minutes, so one prefix table serves them all.
    """

    def __init__(self, first_second, last_second):
        self.first_minute = (first_second - DAY) // 60
        minutes = (last_second + DAY) // 60 - self.first_minute + 1
        self.prefixes = []
        for index in range(minutes):
            local = time.gmtime((self.first_minute + index) * 60)
            self.prefixes.append("%02d/%s/%04d:%02d:%02d:" % (
                local.tm_mday, MONTHS[local.tm_mon - 1], local.tm_year,
                local.tm_hour, local.tm_min))
        self.suffixes = [["%02d %s" % (second, name) for second in range(60)]
                         for name, _, _ in OFFSETS]

    def format(self, second, offset_index):
        """Format a UTC second as %t (without brackets) in an offset."""
        minute, rest = divmod(second + OFFSETS[offset_index][1], 60)
        return (self.prefixes[minute - self.first_minute]
                + self.suffixes[offset_index][rest])


def build_clients(rng, lines_per_day):
    """Return the client addresses, IPv4 first, then IPv6.

    IPv4 comes from the three documentation networks (762 addresses). The
    IPv6 pool, from 2001:db8::/32, grows with the traffic so that the number
    of distinct downloads grows with the input size.
    """
    ipv4 = ["%s.%d" % (network, host)
            for network in ("192.0.2", "198.51.100", "203.0.113")
            for host in range(1, 255)]
    rng.shuffle(ipv4)
    ipv6_count = max(2000, lines_per_day // 4)
    seen = set()
    ipv6 = []
    while len(ipv6) < ipv6_count:
        # Nonzero groups around "::" keep the text in RFC 5952 form, which is
        # how Apache writes the address.
        address = "2001:db8:%x:%x::%x" % (
            rng.randrange(1, 0x10000), rng.randrange(1, 0x10000),
            rng.randrange(1, 0x10000))
        if address not in seen:
            seen.add(address)
            ipv6.append(address)
    return ipv4 + ipv6, len(ipv4)


class LogSet:
    """The generated files and the counts that download_stats.py must find."""

    def __init__(self, folder):
        self.folder = folder
        self.files = []  # paths, newest first
        self.lines = 0
        self.disk_bytes = 0
        self.decompressed_bytes = 0
        self.iso_lines = 0
        self.counted_lines = 0
        self.downloads = 0
        self.expected = {}  # key -> {"YYYY-MM-DD": count}
        self.generation_seconds = 0.0


def file_name(window):
    """Return the log file name for window 0 (oldest) .. ROTATED_FILES (live)."""
    age = ROTATED_FILES - window
    if age == 0:
        return "access.log"
    if age == 1:
        return "access.log.1"
    return "access.log.%d.gz" % age


def write_log_file(path, entries, compress):
    """Sort entries by end time, write them and return the byte counts."""
    entries.sort(key=operator.itemgetter(0))
    data = "".join([line for _, line in entries]).encode("ascii")
    on_disk = gzip.compress(data, GZIP_LEVEL, mtime=0) if compress else data
    with open(path, "wb") as file:
        file.write(on_disk)
    return len(entries), len(on_disk), len(data)


class TrafficGenerator:
    """Generate the log files and the expected counts, hour by hour.

    Every line is stored with the time its request ended, which decides the
    file and the order inside it. A file is written once the start times of
    new requests have passed its end, because no later request can end
    inside it.
    """

    def __init__(self, folder, lines_per_day, seed):
        self.rng = random.Random(seed)
        self.log_set = LogSet(folder)
        self.lines_per_day = lines_per_day
        self.keys, self.sizes, self.removed_keys = build_catalog()
        self.key_cumulative = cumulative(
            [1.0 / (rank + 1) for rank in range(len(self.keys))])
        self.clients, self.ipv4_count = build_clients(self.rng, lines_per_day)
        self.timestamps = Timestamps(FIRST_SECOND, END_OF_LOGS)
        self.windows = [[] for _ in range(ROTATED_FILES + 1)]
        # Each (ip, key, UTC day) is one int: (ip * keys + key) * days + day.
        self.downloads = set()
        self.stored_lines = 0
        self.pending_writes = []

    # Building and storing lines.

    def pick_client(self):
        """Return a client index, with a few clients making many requests."""
        rng = self.rng
        if rng.random() < IPV6_SHARE:
            count = len(self.clients) - self.ipv4_count
            return self.ipv4_count + int(count * rng.random() ** 2)
        return int(self.ipv4_count * rng.random() ** 2)

    def pick_key(self):
        return bisect.bisect(self.key_cumulative, self.rng.random())

    def add_line(self, client, start, end, request, status, size,
                 referer, agent, counted_key=-1):
        """Store one log line unless it falls outside the logs, and return 1.

        A line whose request ended before the first kept rotation is in a
        deleted file, and one that ends after the end of the logs is not
        written yet. Both still count as generated traffic in the return
        value, which the hourly budget uses. A counted_key of 0 or more
        marks a line that download_stats.py must count for that key.
        """
        if end < FIRST_ROTATION or end >= END_OF_LOGS:
            return 1
        self.stored_lines += 1
        rng = self.rng
        offset = 0
        draw = rng.random()
        if draw >= OFFSET_CUMULATIVE[0]:
            offset = bisect.bisect(OFFSET_CUMULATIVE, draw)
        line = '%s - - [%s] "%s" %s %s "%s" "%s"\n' % (
            self.clients[client], self.timestamps.format(start, offset),
            request, status, size, referer, agent)
        if rng.random() < VHOST_SHARE:
            line = VHOST_PREFIX + line
        self.windows[(end - FIRST_ROTATION) // DAY].append((end, line))
        if counted_key >= 0:
            self.log_set.counted_lines += 1
            day = (start - FIRST_DAY) // DAY
            self.downloads.add(
                (client * len(self.keys) + counted_key) * NUMBER_OF_DAYS + day)
        return 1

    def iso_target(self, key_index):
        """Return the request target for a key, now and then in another form.

        download_stats.py reduces all of these forms to the key.
        """
        key = self.keys[key_index]
        draw = self.rng.random()
        if draw < 0.96:
            return "/" + key
        if draw < 0.98:
            return "/%s?mirror=%d" % (key, self.rng.randrange(1, 9))
        if draw < 0.99:
            return "/" + key.replace("-", "%2D")
        if draw < 0.995:
            return "/" + key.replace("/", "//", 1)
        return SITE + "/" + key

    # ISO traffic: each method returns the number of lines generated.

    def full_download(self, client, start):
        rng = self.rng
        key = self.pick_key()
        size = self.sizes[key]
        if rng.random() < 0.2:
            size = int(size * rng.random())  # aborted, still logged as 200
        # Speed between 200 kB/s and 100 MB/s, spread on a log scale.
        speed = 200_000 * 500 ** rng.random()
        end = start + int(size / speed)
        agents = TOOL_AGENTS if rng.random() < 0.4 else BROWSER_AGENTS
        referer = "-" if rng.random() < 0.5 else SITE + "/"
        return self.add_line(
            client, start, end, "GET %s HTTP/1.1" % self.iso_target(key),
            200, size, referer, agents[int(len(agents) * rng.random())], key)

    def partial_series(self, client, start):
        """Store a download manager's 206 requests for one file."""
        rng = self.rng
        key = self.pick_key()
        target = self.iso_target(key)
        agent = RANGE_AGENTS[int(len(RANGE_AGENTS) * rng.random())]
        chunks = rng.randrange(2, 17)
        connections = rng.randrange(1, 5)
        chunk_size = self.sizes[key] // chunks
        speed = 500_000 * 200 ** rng.random()
        chunk_seconds = int(chunk_size / speed)
        if rng.random() < 0.3:
            chunks = rng.randrange(1, chunks + 1)  # stopped before the end
        lines = 0
        for index in range(chunks):
            chunk_start = start + (index // connections) * (chunk_seconds + 1)
            lines += self.add_line(
                client, chunk_start, chunk_start + chunk_seconds,
                "GET %s HTTP/1.1" % target, 206, chunk_size, "-", agent, key)
        return lines

    def head_request(self, client, start):
        rng = self.rng
        key = self.pick_key()
        agent = TOOL_AGENTS[int(len(TOOL_AGENTS) * rng.random())]
        lines = self.add_line(client, start, start,
                              "HEAD %s HTTP/1.1" % self.iso_target(key),
                              200, "-", "-", agent, key)
        if rng.random() < 0.5:
            size = self.sizes[key]
            end = start + 1 + int(size / (1_000_000 * 100 ** rng.random()))
            lines += self.add_line(client, start + 1, end,
                                   "GET %s HTTP/1.1" % self.iso_target(key),
                                   200, size, "-", agent, key)
        return lines

    def not_modified(self, client, start):
        key = self.keys[self.pick_key()]
        agent = TOOL_AGENTS[int(len(TOOL_AGENTS) * self.rng.random())]
        return self.add_line(client, start, start, "GET /%s HTTP/1.1" % key,
                             304, "-", "-", agent)

    def removed_file(self, client, start):
        key = self.removed_keys[int(len(self.removed_keys) * self.rng.random())]
        agent = BROWSER_AGENTS[int(len(BROWSER_AGENTS) * self.rng.random())]
        return self.add_line(client, start, start, "GET /%s HTTP/1.1" % key,
                             404, 196, SITE + "/", agent)

    def range_not_satisfiable(self, client, start):
        key = self.keys[self.pick_key()]
        agent = RANGE_AGENTS[int(len(RANGE_AGENTS) * self.rng.random())]
        return self.add_line(client, start, start, "GET /%s HTTP/1.1" % key,
                             416, 363, "-", agent)

    def iso_event(self, start):
        """Store one client's ISO requests and return the number of lines."""
        draw = self.rng.random()
        client = self.pick_client()
        if draw < 0.40:
            return self.full_download(client, start)
        if draw < 0.58:
            return self.partial_series(client, start)
        if draw < 0.73:
            return self.head_request(client, start)
        if draw < 0.85:
            return self.not_modified(client, start)
        if draw < 0.95:
            return self.removed_file(client, start)
        return self.range_not_satisfiable(client, start)

    # Other traffic.

    def page_view(self, client, start):
        """Store a page and the assets that a browser loads with it."""
        rng = self.rng
        agent = BROWSER_AGENTS[int(len(BROWSER_AGENTS) * rng.random())]
        draw = rng.random()
        if draw < 0.4:
            page, size = "/", 14_520
        elif draw < 0.8:
            page = "/releases/%s/" % VERSIONS[int(len(VERSIONS) * rng.random())]
            size = 9_871
        else:
            page, size = "/.stats/", 48_210
        lines = self.add_line(client, start, start, "GET %s HTTP/2.0" % page,
                              200, size, "-", agent)
        referer = SITE + page
        if rng.random() < 0.5:
            # A browser with an empty cache loads everything.
            lines += self.add_line(client, start, start + 1,
                                   "GET /static/style.css HTTP/2.0",
                                   200, 5_120, referer, agent)
            lines += self.add_line(client, start, start + 1,
                                   "GET /static/logo.png HTTP/2.0",
                                   200, 24_873, referer, agent)
            lines += self.add_line(client, start + 1, start + 1,
                                   "GET /favicon.ico HTTP/2.0",
                                   200, 1_150, referer, agent)
        elif rng.random() < 0.6:
            lines += self.add_line(client, start, start,
                                   "GET /static/style.css HTTP/2.0",
                                   304, "-", referer, agent)
        return lines

    def checksum_request(self, client, start):
        rng = self.rng
        key = self.keys[self.pick_key()]
        agent = TOOL_AGENTS[int(len(TOOL_AGENTS) * rng.random())]
        draw = rng.random()
        folder = key.rsplit("/", 1)[0]
        if draw < 0.5:
            return self.add_line(client, start, start,
                                 "GET /%s/SHA256SUMS HTTP/1.1" % folder,
                                 200, 2_848, "-", agent)
        if draw < 0.7:
            return self.add_line(client, start, start,
                                 "GET /%s/SHA256SUMS.gpg HTTP/1.1" % folder,
                                 200, 833, "-", agent)
        if draw < 0.9:
            return self.add_line(client, start, start,
                                 "GET /%s.sha256 HTTP/1.1" % key,
                                 200, 107, "-", agent)
        return self.add_line(client, start, start,
                             "GET /%s.sha512 HTTP/1.1" % key,
                             404, 196, "-", agent)

    def other_event(self, start):
        """Store one request or page view that is not an ISO request."""
        client = self.pick_client()
        draw = self.rng.random()
        if draw < 0.55:
            return self.page_view(client, start)
        if draw < 0.75:
            return self.checksum_request(client, start)
        if draw < 0.91:
            return self.crawler_request(client, start)
        return self.rare_request(client, start)

    def crawler_request(self, client, start):
        """Store a request from a crawler, a script or a form."""
        rng = self.rng
        bot = BOT_AGENTS[int(len(BOT_AGENTS) * rng.random())]
        draw = rng.random()
        if draw < 0.5:
            return self.add_line(client, start, start,
                                 "GET /robots.txt HTTP/1.1", 200, 68, "-", bot)
        if draw < 0.75:
            return self.add_line(client, start, start,
                                 "GET /releases HTTP/1.1", 301, 338, "-", bot)
        agent = BROWSER_AGENTS[int(len(BROWSER_AGENTS) * rng.random())]
        return self.add_line(client, start, start + 1,
                             "POST /feedback HTTP/2.0", 200, 512,
                             SITE + "/", agent)

    def rare_request(self, client, start):
        """Store a scanner probe, a listing fetch or a broken request."""
        rng = self.rng
        bot = BOT_AGENTS[int(len(BOT_AGENTS) * rng.random())]
        draw = rng.random()
        if draw < 0.45:
            path = ("/wp-login.php", "/.env", "/.git/config",
                    "/admin/", "/xmlrpc.php")[int(5 * rng.random())]
            method = "POST" if path == "/xmlrpc.php" else "GET"
            return self.add_line(client, start, start,
                                 "%s %s HTTP/1.1" % (method, path),
                                 404, 196, "-", bot)
        if draw < 0.85:
            version = VERSIONS[int(len(VERSIONS) * rng.random())]
            return self.add_line(client, start, start,
                                 "GET /releases/%s/ HTTP/1.1" % version,
                                 200, 9_871, "-", bot)
        if draw < 0.92:
            # A client that connected and sent nothing before the timeout.
            return self.add_line(client, start, start + 60, "-", 408, "-",
                                 "-", "-")
        if draw < 0.96:
            # A TLS handshake sent to a plain HTTP port.
            return self.add_line(client, start, start,
                                 "\\x16\\x03\\x01\\x02", 400, 226, "-", "-")
        return self.add_line(client, start, start, "OPTIONS * HTTP/1.0",
                             200, "-", "-",
                             "Apache/2.4.58 (Ubuntu) (internal dummy connection)")

    # The main loop.

    def generate(self):
        """Write all files and return the LogSet with the expected counts."""
        started = time.perf_counter()
        rng = self.rng
        hourly_lines = self.lines_per_day / 24 / HOURLY_MEAN
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as writer:
            # zlib releases the GIL, so a file is compressed and written
            # while the next one is generated.
            next_window = 0
            for hour in range(FIRST_SECOND, END_OF_LOGS, HOUR):
                weight = HOURLY_WEIGHTS[hour // HOUR % 24]
                target = hourly_lines * weight * (0.9 + 0.2 * rng.random())
                iso_target = target * ISO_SHARE
                stored_before = self.stored_lines
                iso_lines = 0
                while iso_lines < iso_target:
                    iso_lines += self.iso_event(hour + int(HOUR * rng.random()))
                self.log_set.iso_lines += self.stored_lines - stored_before
                other_lines = 0
                while other_lines < target - iso_target:
                    other_lines += self.other_event(
                        hour + int(HOUR * rng.random()))
                next_hour = hour + HOUR
                while (next_window <= ROTATED_FILES
                       and next_hour >= FIRST_ROTATION + (next_window + 1) * DAY):
                    self.submit_window(writer, next_window)
                    next_window += 1
            while next_window <= ROTATED_FILES:
                self.submit_window(writer, next_window)
                next_window += 1
            for future in self.pending_writes:
                lines, disk_bytes, decompressed_bytes = future.result()
                self.log_set.lines += lines
                self.log_set.disk_bytes += disk_bytes
                self.log_set.decompressed_bytes += decompressed_bytes
        self.aggregate_downloads()
        self.log_set.files.reverse()
        self.log_set.generation_seconds = time.perf_counter() - started
        return self.log_set

    def submit_window(self, writer, window):
        name = file_name(window)
        path = os.path.join(self.log_set.folder, name)
        entries = self.windows[window]
        self.windows[window] = None
        self.log_set.files.append(path)
        self.pending_writes.append(writer.submit(
            write_log_file, path, entries, name.endswith(".gz")))

    def aggregate_downloads(self):
        """Turn the (ip, key, day) triples into counts per key and day."""
        day_names = [time.strftime("%Y-%m-%d", time.gmtime(FIRST_DAY + d * DAY))
                     for d in range(NUMBER_OF_DAYS)]
        per_key_day = {}
        for triple in self.downloads:
            key_day = triple % (len(self.keys) * NUMBER_OF_DAYS)
            per_key_day[key_day] = per_key_day.get(key_day, 0) + 1
        expected = {}
        for key_day, count in per_key_day.items():
            key, day = divmod(key_day, NUMBER_OF_DAYS)
            expected.setdefault(self.keys[key], {})[day_names[day]] = count
        self.log_set.expected = expected
        self.log_set.downloads = len(self.downloads)
        self.downloads = set()


# Measuring.

# The measured command runs as the child of this small wrapper, which times
# it and reads getrusage(RUSAGE_CHILDREN) when it has ended. ru_maxrss is
# the maximum resident set size of any single process among the terminated
# children that were waited for (download_stats.py and its worker
# processes), not the sum of processes running at once. Reading it here in
# the benchmark would mix in every earlier run and the zcat runs.
WRAPPER = r"""
import json, resource, subprocess, sys, time
result_path, command = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
code = subprocess.call(command)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(result_path, "w") as file:
    json.dump({"code": code, "wall": wall, "maxrss": usage.ru_maxrss,
               "cpu": usage.ru_utime + usage.ru_stime}, file)
"""


def run_measured(command, result_path, stdout, stderr, env):
    """Run command under the wrapper and return its result dict."""
    subprocess.run([sys.executable, "-c", WRAPPER, result_path] + command,
                   stdout=stdout, stderr=stderr, env=env, check=True)
    with open(result_path, encoding="utf-8") as file:
        result = json.load(file)
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    result["peak_mib"] = result["maxrss"] / divisor
    return result


def make_root(root, keys, sizes):
    """Create a download root with the ISO files as sparse files."""
    for key, size in zip(keys, sizes):
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.truncate(size)


def run_script(log_set, run_folder, jobs, env):
    """Run download_stats.py once on a fresh root and return its result.

    Exits the benchmark if the script fails or prints anything.
    """
    if os.path.exists(run_folder):
        shutil.rmtree(run_folder)
    root = os.path.join(run_folder, "root")
    keys, sizes, _ = build_catalog()
    make_root(root, keys, sizes)
    command = [sys.executable, SCRIPT,
               "--logs", os.path.join(log_set.folder, "access.log*"),
               "--root", root]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    out_path = os.path.join(run_folder, "stdout.txt")
    err_path = os.path.join(run_folder, "stderr.txt")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        result = run_measured(command, os.path.join(run_folder, "result.json"),
                              out, err, env)
    with open(out_path, encoding="utf-8", errors="replace") as file:
        output = file.read()
    with open(err_path, encoding="utf-8", errors="replace") as file:
        output += file.read()
    if result["code"] != 0 or output:
        sys.exit("download_stats.py exited with status %d and printed:\n%s"
                 % (result["code"], output[-4000:]))
    result["counts_path"] = os.path.join(root, ".stats", "counts.json")
    return result


def run_zcat(log_set, result_path, env):
    return run_measured(["zcat", "-f"] + log_set.files, result_path,
                        subprocess.DEVNULL, None, env)


def compare_counts(counts_path, expected):
    """Return a list of differences between counts.json and expected."""
    with open(counts_path, encoding="utf-8") as file:
        counts = json.load(file)
    if counts.get("schema") != 2:
        return ["schema is %r, expected 2" % counts.get("schema")]
    files = counts.get("files", {})
    differences = []
    for key in sorted(set(files) | set(expected)):
        expected_days = expected.get(key, {})
        actual_days = files.get(key, {}).get("days", {})
        for day in sorted(set(expected_days) | set(actual_days)):
            if expected_days.get(day) != actual_days.get(day):
                differences.append("%s %s: expected %s, counts.json has %s" % (
                    key, day, expected_days.get(day), actual_days.get(day)))
        expected_months = {}
        for day, count in expected_days.items():
            expected_months[day[:7]] = expected_months.get(day[:7], 0) + count
        actual_months = files.get(key, {}).get("months", {})
        for month in sorted(set(expected_months) | set(actual_months)):
            if expected_months.get(month) != actual_months.get(month):
                differences.append("%s %s: expected %s, counts.json has %s" % (
                    key, month, expected_months.get(month),
                    actual_months.get(month)))
    return differences


def print_load():
    """Print the load average, because other processes distort the times."""
    if hasattr(os, "getloadavg"):
        print("  load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg(),
              flush=True)


def summarize_walls(results):
    walls = [result["wall"] for result in results]
    return statistics.median(walls), min(walls), max(walls)


def generate_log_set(folder, lines_per_day, seed):
    """Generate the logs into folder/logs, save and print what they contain."""
    logs = os.path.join(folder, "logs")
    os.makedirs(logs)
    log_set = TrafficGenerator(logs, lines_per_day, seed).generate()
    with open(os.path.join(folder, "expected.json"), "w",
              encoding="utf-8") as file:
        json.dump(log_set.expected, file, indent=2, sort_keys=True)
    print("  %d lines in %d files, %.1f MB on disk, %.1f MB decompressed, "
          "generated in %.1f s" % (
              log_set.lines, len(log_set.files), log_set.disk_bytes / 1e6,
              log_set.decompressed_bytes / 1e6, log_set.generation_seconds))
    print("  %.1f%% ISO lines, %d counted lines, %d downloads "
          "(distinct ip, key, day) in %d (key, day) pairs" % (
              100.0 * log_set.iso_lines / max(log_set.lines, 1),
              log_set.counted_lines, log_set.downloads,
              sum(len(days) for days in log_set.expected.values())),
          flush=True)
    return log_set


def run_interleaved(log_set, folder, runs, jobs, env):
    """Time the script and zcat in turn and check every counts.json.

    Returns the script results, the zcat results and the differences that
    the first wrong counts.json showed (empty when all were exact).
    """
    # An untimed pass puts the files in the page cache for both commands.
    zcat_result_path = os.path.join(folder, "zcat-result.json")
    run_zcat(log_set, zcat_result_path, env)
    script_results, zcat_results, differences = [], [], []
    for run in range(runs):
        # Alternate the order so that neither command always runs second.
        order = ("script", "zcat") if run % 2 == 0 else ("zcat", "script")
        for name in order:
            if name == "zcat":
                zcat_results.append(run_zcat(log_set, zcat_result_path, env))
                continue
            result = run_script(log_set, os.path.join(folder, "run"), jobs,
                                env)
            script_results.append(result)
            if not differences:
                differences = compare_counts(result["counts_path"],
                                             log_set.expected)
        print("  run %d/%d: script %.2f s (CPU %.2f s, peak RSS %.1f MiB), "
              "zcat %.2f s" % (
                  run + 1, runs, script_results[-1]["wall"],
                  script_results[-1]["cpu"], script_results[-1]["peak_mib"],
                  zcat_results[-1]["wall"]), flush=True)
    return script_results, zcat_results, differences


def measure_scale(scale, args, work_folder, env):
    """Generate, measure and check one size and return its summary row."""
    folder = os.path.join(work_folder, "scale-%g" % scale)
    lines_per_day = int(args.lines_per_day * scale)
    print("scale %g: generating %d lines a day ..." % (scale, lines_per_day),
          flush=True)
    log_set = generate_log_set(folder, lines_per_day, args.seed)
    script_results, zcat_results, differences = run_interleaved(
        log_set, folder, args.runs, args.jobs, env)
    print_load()

    script_median, script_min, script_max = summarize_walls(script_results)
    zcat_median, zcat_min, zcat_max = summarize_walls(zcat_results)
    peak_mib = max(result["peak_mib"] for result in script_results)
    script_cpu = statistics.median(result["cpu"] for result in script_results)
    zcat_cpu = statistics.median(result["cpu"] for result in zcat_results)
    print("  script: median %.2f s (min %.2f, max %.2f), %.0f lines/s, "
          "CPU %.2f s, peak RSS %.1f MiB" % (
              script_median, script_min, script_max,
              log_set.lines / script_median, script_cpu, peak_mib))
    print("  zcat -f: median %.2f s (min %.2f, max %.2f), %.0f lines/s, "
          "CPU %.2f s" % (zcat_median, zcat_min, zcat_max,
                          log_set.lines / zcat_median, zcat_cpu))
    print("  ratio script/zcat: %.1f" % (script_median / zcat_median))
    if differences:
        print("  counts: %d differences, first ones:" % len(differences))
        for difference in differences[:20]:
            print("    " + difference)
    else:
        print("  counts: exact")

    if not args.keep:
        shutil.rmtree(folder)
    return {
        "scale": scale, "lines": log_set.lines,
        "script": script_median, "zcat": zcat_median, "peak_mib": peak_mib,
        "exact": not differences,
    }


def print_table(rows):
    print()
    print("%6s %10s %9s %8s %6s %15s %13s %9s %7s" % (
        "scale", "lines", "script_s", "zcat_s", "ratio", "script_lines/s",
        "zcat_lines/s", "peak_MiB", "counts"))
    for row in rows:
        print("%6g %10d %9.2f %8.2f %6.1f %15.0f %13.0f %9.1f %7s" % (
            row["scale"], row["lines"], row["script"], row["zcat"],
            row["script"] / row["zcat"], row["lines"] / row["script"],
            row["lines"] / row["zcat"], row["peak_mib"],
            "exact" if row["exact"] else "WRONG"))


def parse_scales(text):
    try:
        scales = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("invalid scale list %r" % text)
    if not scales or any(scale <= 0 for scale in scales):
        raise argparse.ArgumentTypeError("scales must be positive: %r" % text)
    return scales


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time download_stats.py on generated Apache logs and "
                    "check its counts.")
    parser.add_argument("--lines-per-day", type=int, default=100_000,
                        help="log lines per day at scale 1 (default 100000)")

    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--scale", type=float, default=None,
                       help="multiply --lines-per-day by this factor "
                            "(default 1)")
    sizes.add_argument("--scales", type=parse_scales, default=None,
                       help="comma-separated factors, measured one after "
                            "the other, such as 1,10")

    parser.add_argument("--runs", type=int, default=5,
                        help="timed runs of each command; the median is "
                             "reported (default 5)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="pass --jobs N to download_stats.py (default: "
                             "not passed)")
    parser.add_argument("--seed", type=int, default=20260506,
                        help="seed of the log generator (default 20260506)")
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="generate into DIR and keep the logs, the "
                             "expected counts and the last run's root")

    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.lines_per_day < 1:
        parser.error("--lines-per-day must be at least 1")
    if args.scales is None:
        args.scales = [args.scale if args.scale is not None else 1.0]
    if args.keep and os.path.isdir(args.keep) and os.listdir(args.keep):
        parser.error("--keep folder %s is not empty" % args.keep)
    return args


def main(argv):
    args = parse_args(argv)
    if not os.path.isfile(SCRIPT):
        sys.exit("benchmark: %s not found" % SCRIPT)
    if shutil.which("zcat") is None:
        sys.exit("benchmark: zcat not found on PATH (install gzip)")
    # TZ is pinned so that the counts do not depend on the machine's zone.
    env = dict(os.environ, TZ="UTC")
    usable_cpus = (len(os.sched_getaffinity(0))
                   if hasattr(os, "sched_getaffinity") else os.cpu_count())
    print("Python %s (%s) on %s" % (platform.python_version(), sys.executable,
                                    platform.platform()))
    print("CPUs: %s (%s usable), download_stats.py --jobs: %s" % (
        os.cpu_count(), usable_cpus,
        args.jobs if args.jobs is not None else "not passed"))
    print("runs per command: %d, seed %d" % (args.runs, args.seed))
    print_load()

    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        work_folder = args.keep
    else:
        work_folder = tempfile.mkdtemp(prefix="download-stats-benchmark-")
    try:
        rows = [measure_scale(scale, args, work_folder, env)
                for scale in args.scales]
    finally:
        if not args.keep:
            shutil.rmtree(work_folder, ignore_errors=True)
    if len(rows) > 1:
        print_table(rows)
    return 0 if all(row["exact"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
