"""``vidgen generate``: a prompt, an image, a video or a character in, MP4 out, with a live view
of the job."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.prompt import Confirm

from vidgen.cli.remote import (
    ApiKey,
    BaseUrl,
    ExitCode,
    JsonOutput,
    connect,
    err,
    fail,
    print_json,
    reporting_errors,
)
from vidgen.client import (
    DEFAULT_FRAME_RATE_MODEL,
    DEFAULT_MODEL,
    DEFAULT_PERFORMANCE_MODEL,
    DEFAULT_TEXT_MODEL,
    DEFAULT_UPSCALE_MODEL,
    DEFAULT_VIDEO_MODEL,
    Client,
    Generation,
    GenerationFailed,
    Timeout,
    ValidationError,
)

__all__ = ["generate"]

# Every 0.5 s, flat (the SDK's own polls grow to every 5 s): a worker records a job's progress
# at each heartbeat, once a second, so two polls per heartbeat put every value on the bar. At 2 s
# the bar skipped every other value (and a preview job, over in about a second, shows none: it
# goes from 0 % to 100 % between two heartbeats). A poll is a cheap indexed read.
MAX_POLL_SECONDS = 0.5


class LiveView:
    """Status, progress bar and elapsed time on a terminal; one line per change elsewhere
    (CI logs, pipes), so that a log still tells the story."""

    def __init__(self, generation_id: str) -> None:
        self.generation_id = generation_id
        self.live = err.is_terminal
        self.last_status = "queued"  # what a create answers
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("[bold]{task.fields[status]:<10}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[generation_id]}"),
            console=err,
            disable=not self.live,
        )
        self.task = self.progress.add_task(
            "", total=1.0, status="queued", generation_id=generation_id
        )
        self.started = time.monotonic()

    def __enter__(self) -> LiveView:
        self.progress.start()
        if not self.live:
            err.print(f"{self.generation_id}: queued")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def update(self, generation: Generation) -> None:
        """The SDK's ``on_progress`` callback."""
        self.progress.update(
            self.task,
            completed=generation.progress or 0.0,
            # Without a progress figure (other services) the bar pulses instead.
            total=1.0 if generation.progress is not None or generation.is_final else None,
            status=generation.status,
        )
        if not self.live and generation.status != self.last_status:
            elapsed = time.monotonic() - self.started
            err.print(f"{self.generation_id}: {generation.status} ({elapsed:.1f} s)")
        self.last_status = generation.status


def _interrupted(client: Client, generation_id: str, *, as_json: bool) -> NoReturn:
    """Ctrl-C while waiting: offer to cancel (only a person at a terminal can answer)."""
    how = f"Check on it with: vidgen status {generation_id}\nCancel it with:   vidgen cancel {generation_id}"
    if sys.stdin.isatty():
        try:
            cancel = Confirm.ask(
                f"\nCancel generation [bold]{generation_id}[/]?", console=err, default=True
            )
        except (KeyboardInterrupt, EOFError):
            cancel = False
        if cancel:
            with reporting_errors(as_json=as_json):
                state = client.generations.cancel(generation_id)
            if as_json:
                print_json(state.raw)
            err.print(
                f"Cancelled {generation_id}."
                if state.is_final
                else f"Cancelling {generation_id}: it stops at the engine's next check."
            )
            raise typer.Exit(ExitCode.INTERRUPTED)
        err.print(f"Left running. {how}")
    else:
        err.print(f"\nInterrupted; the generation goes on. {how}")
    raise typer.Exit(ExitCode.INTERRUPTED)


def _summary(generation: Generation, path: Path) -> str:
    facts = []
    if generation.duration:
        facts.append(f"{generation.duration:g} s")
    if generation.aspect_ratio:
        facts.append(generation.aspect_ratio)
    if generation.seed is not None:
        facts.append(f"seed {generation.seed}")
    if generation.usage and generation.usage.credits_used is not None:
        facts.append(f"{generation.usage.credits_used:g} credits")
    details = ", ".join(facts)
    return f"Saved [bold]{escape(str(path))}[/]" + (f" ({escape(details)})" if details else "")


def generate(
    image: Annotated[
        str | None,
        typer.Argument(
            metavar="IMAGE_OR_URL",
            help="First frame: a local file (sent inline), an https URL or a data: URI. "
            "Without it (and without --video), --prompt alone makes a video from text.",
            show_default=False,
        ),
    ] = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="What should happen (≤ 1000 chars).")
    ] = None,
    video: Annotated[
        str | None,
        typer.Option(
            "--video",
            metavar="PATH_OR_URL",
            help="Input video, for video to video (or, with --resolution, an upscale; with "
            "--target-framerate, a frame-rate change): a local MP4, QuickTime or WebM file (sent "
            "inline), an https URL or a data: URI.",
            show_default=False,
        ),
    ] = None,
    character: Annotated[
        str | None,
        typer.Option(
            "--character",
            metavar="PATH_OR_URL",
            help="Character performance: the character, an image or a video (a local file or a "
            "URL), driven by --performance.",
            show_default=False,
        ),
    ] = None,
    performance: Annotated[
        str | None,
        typer.Option(
            "--performance",
            metavar="PATH_OR_URL",
            help="Character performance: the video whose performance drives --character; the "
            "output is as long as it.",
            show_default=False,
        ),
    ] = None,
    body_control: Annotated[
        bool | None,
        typer.Option(
            "--body-control/--no-body-control",
            help="Character performance: move the body too, not only the face.",
            show_default=False,
        ),
    ] = None,
    expression_intensity: Annotated[
        int | None,
        typer.Option(
            "--expression-intensity",
            metavar="1-5",
            help="Character performance: how strongly the face follows the performance.",
            show_default=False,
        ),
    ] = None,
    resolution: Annotated[
        str | None,
        typer.Option(
            "--resolution",
            help="Upscale --video to 720p, 1k, 2k or 4k (also Veo 3.1's output resolution).",
            show_default=False,
        ),
    ] = None,
    target_framerate: Annotated[
        str | None,
        typer.Option(
            "--target-framerate",
            metavar="FPS",
            help="Change --video's frame rate to 24, 25, 30, 48, 50, 60, 120, 23_98, 29_97 "
            "or 59_94 with interpolated frames.",
            show_default=False,
        ),
    ] = None,
    references: Annotated[
        list[str] | None,
        typer.Option(
            "--reference",
            metavar="PATH_OR_URL",
            help="A reference image (repeat for more), for a model that takes them.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help=f"Model id (default: {DEFAULT_PERFORMANCE_MODEL} with --character, "
            f"{DEFAULT_UPSCALE_MODEL} with --video and --resolution, {DEFAULT_FRAME_RATE_MODEL} "
            f"with --video and --target-framerate, {DEFAULT_VIDEO_MODEL} with --video, "
            f"{DEFAULT_MODEL} with an image, {DEFAULT_TEXT_MODEL} for a prompt alone).",
            show_default=False,
        ),
    ] = None,
    ratio: Annotated[
        str | None,
        typer.Option(
            "--ratio",
            help="Aspect ratio, e.g. 16:9 (default: from the image or video, else the model's).",
        ),
    ] = None,
    duration: Annotated[
        int | None, typer.Option("--duration", "-d", help="Seconds, e.g. 5 or 10.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Repeat a result exactly.")] = None,
    tail: Annotated[
        str | None, typer.Option("--tail", help="Last frame: a local file or a URL.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to save the MP4 (default: <id>.mp4)."),
    ] = None,
    as_json: JsonOutput = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0, help="Seconds to wait for the video (0: no limit)."),
    ] = 600.0,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Generate a video from a prompt, an image, a video or a character, and save it as an MP4.

    Exit codes: 0 saved, 1 the generation failed, 2 bad input, 3 bad or missing key, 4 out of credits, 5 timed out, 6 not found, 7 server unreachable or failing, 130 interrupted.
    """
    if image is None and video is None and prompt is None and character is None:
        # Caught here, before a request that the server could only refuse.
        nothing = ValidationError(
            "nothing to make a video from: give IMAGE_OR_URL, --video, --character or --prompt"
        )
        fail(nothing, as_json=as_json)
    client = connect(base_url, api_key, max_poll=MAX_POLL_SECONDS)
    with client, reporting_errors(as_json=as_json):
        try:
            created = client.generations.create(
                image=image,
                prompt=prompt,
                model=model,
                tail_image=tail,
                video=video,
                references=references,
                character=character,
                performance=performance,
                body_control=body_control,
                expression_intensity=expression_intensity,
                resolution=resolution,
                target_framerate=target_framerate,
                aspect_ratio=ratio,
                duration=duration,
                seed=seed,
            )
        except KeyboardInterrupt:
            err.print(
                "\nInterrupted before the server answered: `vidgen list` shows if it took the job."
            )
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        view = LiveView(created.id)
        try:
            with view:
                # The server's event stream where it has one (every change as it happens),
                # else the polls below.
                done = client.generations.wait(
                    created, timeout=timeout or None, on_progress=view.update, follow=True
                )
        except KeyboardInterrupt:  # the live view has stopped: the prompt has the terminal
            _interrupted(client, created.id, as_json=as_json)
        except GenerationFailed as exc:
            if as_json:  # the final generation, as for a success
                print_json(exc.generation.raw)
            fail(exc, as_json=False)
        except Timeout as exc:
            err.print(f"[dim]The generation goes on: vidgen status {created.id}[/]")
            fail(exc, as_json=as_json)
        path = output or Path(f"{done.id}.mp4")
        try:
            with err.status(f"Downloading to {escape(str(path))}…"):
                client.download(done, path)
        except KeyboardInterrupt:
            err.print(f"\nInterrupted; the video stays on the server: vidgen status {done.id}")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        if as_json:
            print_json(done.raw)
        err.print(_summary(done, path))
