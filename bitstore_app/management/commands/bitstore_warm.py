"""Warm the cache tier with the SHA1s of a file: on the Celery workers, or in this process."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bitstore_app import warming

BAR_WIDTH = 30
#: Seconds between progress reports: the bar on a terminal, a new line in a log.
TERMINAL_INTERVAL = 0.5
LOG_INTERVAL = 5.0
#: Seconds between looks at the job in the database.
POLL_INTERVAL = 0.5


class Command(BaseCommand):
    help = (
        "Read SHA1s (one per line) from FILE or stdin and fetch those the cache tier lacks "
        "from the sources into the cache: as a job for the workers, or here with --local."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", nargs="?", default="-", help="SHA1s, one per line; - (the default) is stdin"
        )
        parser.add_argument(
            "--local", action="store_true", help="warm in this process instead of on workers"
        )
        parser.add_argument(
            "--chunk-size", type=int, help="SHA1s per chunk (default: BITSTORE WARM_CHUNK_SIZE)"
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="enqueue the job and return at once"
        )
        parser.add_argument(
            "--progress-interval",
            type=float,
            metavar="SECONDS",
            help=f"seconds between progress reports (default: {TERMINAL_INTERVAL} on a "
            f"terminal, where the bar is redrawn in place, else {LOG_INTERVAL}, a line each)",
        )

    def handle(
        self, file, local=False, chunk_size=None, no_wait=False, progress_interval=None, **options
    ):
        hashes = read_hashes(file)
        self.stderr.style_func = None  # progress is no error: not in red on a terminal
        progress = Progress(self.stderr, progress_interval)
        try:
            if local:
                job, chunks = warming.create_job(hashes, chunk_size)
                progress.show(job)
                job = warming.run_here(job, chunks, on_progress=progress.show)
            else:
                job = warming.start_warm_job(hashes, chunk_size)
                self.stderr.write(f"warm job {job.pk} enqueued: {job.chunks} chunk tasks")
                if no_wait:
                    return
                job = self.wait(job, progress)
        except (warming.NoCacheTier, warming.BrokerUnavailable, ValueError) as exc:
            raise CommandError(str(exc)) from None
        progress.show(job, final=True)
        progress.end()
        self.stdout.write(summary(job))

    def wait(self, job, progress):
        """Follow the job until it ends; say once if no worker takes it in time."""
        noted = False
        try:
            while job.finished_at is None:
                progress.show(job)
                if not noted:
                    note = warming.waiting_note(job)
                    if note:
                        progress.note(note)
                        noted = True
                time.sleep(POLL_INTERVAL)
                job.refresh_from_db()
        except KeyboardInterrupt:
            progress.end()
            raise CommandError(
                f"stopped waiting; warm job {job.pk} goes on on the workers"
            ) from None
        return job


def read_hashes(file):
    """Return the lines of the file (stdin for -), without blanks and # comments."""
    if file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            with open(file, encoding="utf-8") as source:
                lines = source.read().splitlines()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


class Progress:
    """Progress on stderr: on a terminal a bar redrawn in place, elsewhere (a log, a pipe) a
    line every few seconds; `show` may be called as often as one likes."""

    def __init__(self, stream, interval=None):
        self.stream = stream
        self.in_place = getattr(stream, "isatty", lambda: False)()
        default = TERMINAL_INTERVAL if self.in_place else LOG_INTERVAL
        self.interval = default if interval is None else interval
        self.shown_at = None
        self.last_line = None
        self.shown = False

    def show(self, job, final=False):
        """Report the job's counts, unless the last report is more recent than the interval
        (the final one is always shown)."""
        now = time.monotonic()
        if not final and self.shown_at is not None and now - self.shown_at < self.interval:
            return
        done = job.processed
        filled = round(BAR_WIDTH * job.progress)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = (
            f"[{bar}] {job.progress:4.0%} {done}/{job.total}  warmed {job.warmed}  "
            f"cached {job.already_cached}  not found {job.not_found}  invalid {job.invalid}  "
            f"failed {job.failed}  {rate(job)}"
        )
        if final and line == self.last_line:
            return  # the job ended with the report already shown
        self.shown_at, self.last_line = now, line
        if self.in_place:
            self.stream.write("\r" + line + "\x1b[K", ending="")  # and clear what was longer
            self.stream.flush()
        else:
            self.stream.write(line)
        self.shown = True

    def note(self, text):
        """Write a message on a line of its own (below the bar, which goes on beneath)."""
        self.end()
        self.stream.write(text)
        self.shown_at = None

    def end(self):
        if self.in_place and self.shown:
            self.stream.write("")
        self.shown = False


def rate(job):
    """Return 'N blobs/s' over the job's run so far, or '' before it starts."""
    if job.started_at is None:
        return ""
    end = job.finished_at or timezone.now()
    seconds = max((end - job.started_at).total_seconds(), 1e-3)
    blobs = job.processed - job.malformed
    return f"{blobs} in {seconds:.1f} s, {blobs / seconds:.1f} blobs/s"


def summary(job):
    """Return the final report of a job, one figure a line."""
    rows = [
        (label, getattr(job, name))
        for label, name in [
            ("total", "total"),
            ("already cached", "already_cached"),
            ("warmed", "warmed"),
            ("not found", "not_found"),
            ("invalid data", "invalid"),
            ("failed", "failed"),
            ("malformed", "malformed"),
            ("bytes written", "bytes"),
        ]
    ]
    lines = [f"warm job {job.pk}: {job.get_status_display().lower()}, {rate(job)}"]
    lines += [f"  {label:<15}{value:>12}" for label, value in rows]
    for label, values in [
        ("failed", job.failed_hashes),
        ("invalid data", job.invalid_hashes),
        ("malformed", job.malformed_inputs),
    ]:
        if values:
            shown = ", ".join(values[:5]) + (", ..." if len(values) > 5 else "")
            lines.append(f"  {label}: {shown}")
    if job.retryable_hashes:
        lines.append(
            '  retry the failed and invalid ones with the admin action "Retry failed hashes"'
        )
    return "\n".join(lines)
