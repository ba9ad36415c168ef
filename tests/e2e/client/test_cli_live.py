"""``vidgen generate | status | list | cancel | models`` run as a user would, as subprocesses
against a real server: the MP4 they save, the JSON they print, and every exit code."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import pytest

from tests.conftest import ImageServer, LiveServer, free_port, make_image, make_video
from tests.e2e.client.conftest import CLI_KEY, client_env
from vidgen.client import Client, Generation
from vidgen.core.catalog import Catalog

pytestmark = pytest.mark.slow

VIDGEN = [sys.executable, "-m", "vidgen.cli.main"]
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def frame(tmp_path: Path) -> Path:
    """A small PNG on disk, as a user would pass it."""
    path = tmp_path / "frame.png"
    path.write_bytes(make_image())
    return path


def vidgen(
    server: LiveServer, *args: str, key: str = CLI_KEY, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIDGEN, *args],
        env=client_env(server, key),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def probe(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.width, stream.codec_context.height


def sdk(server: LiveServer) -> Client:
    return Client(CLI_KEY, base_url=server.base_url)


def default_sigint() -> None:
    """Give the child Ctrl-C's default action. A test run started with SIGINT ignored (``make
    test &`` from a script: a background job of a non-interactive shell ignores it) passes
    SIG_IGN on to every child, where Python then installs no KeyboardInterrupt handler; Popen's
    ``restore_signals`` resets only SIGPIPE, SIGXFZ and SIGXFSZ."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_waiting(
    server: LiveServer, frame: Path, *args: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``vidgen generate`` on the idle server; return it once it is waiting, with the id."""
    process = subprocess.Popen(
        [*VIDGEN, "generate", str(frame), *args],
        env=client_env(server),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_sigint,
    )
    assert process.stderr is not None
    line = process.stderr.readline()  # "<id>: queued" once the job exists and the wait began
    found = UUID.search(line)
    assert found and b"queued" in line, line
    return process, found.group().decode()


def test_generate_saves_a_real_mp4_from_a_local_file(
    working_server: LiveServer, tmp_path: Path
) -> None:
    image = tmp_path / "summit.png"
    image.write_bytes(make_image(800, 450))
    result = vidgen(
        working_server,
        "generate",
        str(image),
        "--prompt",
        "slow zoom in",
        "--duration",
        "5",
        "--ratio",
        "16:9",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # stdout is for --json only
    (saved,) = tmp_path.glob("*.mp4")
    assert re.fullmatch(r"[0-9a-f-]{36}\.mp4", saved.name)  # <id>.mp4 by default
    assert f"Saved {saved.name}" in result.stderr and "8 credits" in result.stderr
    assert probe(saved) == (120, 1280, 720)


def test_generate_json_prints_the_final_generation_and_saves_where_told(
    working_server: LiveServer, image_server: ImageServer, tmp_path: Path
) -> None:
    url = image_server.add("portrait.png", make_image(360, 640))
    out = tmp_path / "clips" / "portrait.mp4"
    result = vidgen(
        working_server,
        "generate",
        url,
        "--json",
        "--ratio",
        "9:16",
        "--seed",
        "7",
        "--prompt",
        "tilt up",
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    generation = json.loads(result.stdout)
    assert generation["status"] == "completed"
    assert generation["meta"]["seed"] == 7 and generation["meta"]["aspect_ratio"] == "9:16"
    assert generation["video"]["url"].startswith(working_server.base_url)
    assert probe(out) == (120, 720, 1280)


def test_credits_are_whole_numbers_in_the_json_and_the_text(
    working_server: LiveServer, frame: Path, tmp_path: Path
) -> None:
    done = vidgen(working_server, "generate", str(frame), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # As the README shows them: 8, not 8.0 (JSON's number type holds both).
    assert '"credits_used": 8,' in done.stdout and '"tokens_used": 8\n' in done.stdout
    gen_id = json.loads(done.stdout)["id"]
    assert re.search(r"^credits\s+8$", vidgen(working_server, "status", gen_id).stdout, re.M)


def test_bad_input_exits_2_naming_each_field(
    working_server: LiveServer, frame: Path, tmp_path: Path
) -> None:
    args = ("generate", str(frame), "--ratio", "5:5", "--duration", "11", "--json")
    result = vidgen(working_server, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["status_code"] == 400
    assert {e["field"] for e in error["errors"]} == {"aspect_ratio", "duration"}
    assert "aspect_ratio:" in result.stderr and "duration:" in result.stderr
    missing = vidgen(working_server, "generate", str(tmp_path / "nope.png"), cwd=tmp_path)
    assert missing.returncode == 2 and "nope.png" in missing.stderr
    assert list(tmp_path.glob("*.mp4")) == []  # nothing was saved where it would have been


def test_generate_makes_a_video_from_a_prompt_alone_or_from_a_local_video(
    working_server: LiveServer, tmp_path: Path
) -> None:
    text = vidgen(
        working_server, "generate", "-p", "a lighthouse", "-d", "2", "-o", "t.mp4", cwd=tmp_path
    )
    assert text.returncode == 0, text.stderr
    assert probe(tmp_path / "t.mp4") == (48, 1280, 720)  # runway/gen4.5's 16:9, 2 s at 24 fps
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_video(64, 36, frames=48, fps=24))
    result = vidgen(
        working_server,
        "generate",
        "--video",
        str(clip),
        "-p",
        "in watercolour",
        "--json",
        "-o",
        "v.mp4",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["meta"]["model"] == "runway/aleph2"  # the default for a video
    # As long as the input (2 s at the model's 24 fps), at the ratio nearest its shape.
    assert probe(tmp_path / "v.mp4") == (48, 1280, 720)


def test_generate_animates_a_character_and_upscales_and_retimes_a_video(
    working_server: LiveServer, frame: Path, tmp_path: Path
) -> None:
    take = tmp_path / "take.mp4"
    take.write_bytes(make_video(64, 36, frames=72, fps=24))  # 3 s: act_two's shortest
    acted = vidgen(
        working_server,
        "generate",
        "--character",
        str(frame),
        "--performance",
        str(take),
        "--body-control",
        "--expression-intensity",
        "4",
        "--ratio",
        "1:1",
        "--json",
        "-o",
        "acted.mp4",
        cwd=tmp_path,
    )
    assert acted.returncode == 0, acted.stderr
    assert json.loads(acted.stdout)["meta"]["model"] == "runway/act_two"  # the default for it
    assert probe(tmp_path / "acted.mp4") == (72, 960, 960)  # as long as the performance
    upscaled = vidgen(
        working_server,
        "generate",
        "--video",
        str(take),
        "--resolution",
        "720p",
        "-o",
        "up.mp4",
        cwd=tmp_path,
    )
    assert upscaled.returncode == 0, upscaled.stderr
    assert probe(tmp_path / "up.mp4") == (72, 1280, 720)  # every frame, 720 on the short side
    retimed = vidgen(
        working_server,
        "generate",
        "--video",
        str(take),
        "--target-framerate",
        "48",
        "-o",
        "smooth.mp4",
        cwd=tmp_path,
    )
    assert retimed.returncode == 0, retimed.stderr
    assert probe(tmp_path / "smooth.mp4") == (144, 64, 36)  # twice the frames, same size
    # A performance that is no video is refused before anything is sent, naming the field.
    bad = vidgen(
        working_server,
        "generate",
        "--character",
        str(frame),
        "--performance",
        str(frame),
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "reference.url" in bad.stderr


def test_generate_without_inputs_or_with_a_bad_video_or_reference_exits_2(
    working_server: LiveServer, frame: Path, tmp_path: Path
) -> None:
    nothing = vidgen(working_server, "generate", "--json", cwd=tmp_path)
    assert nothing.returncode == 2, nothing.stderr
    assert (
        "give IMAGE_OR_URL, --video, --character or --prompt"
        in json.loads(nothing.stdout)["error"]["message"]
    )
    missing = vidgen(
        working_server, "generate", "--video", str(tmp_path / "nope.mp4"), cwd=tmp_path
    )
    assert missing.returncode == 2 and "nope.mp4" in missing.stderr
    not_a_video = vidgen(working_server, "generate", "--video", str(frame), cwd=tmp_path)
    assert (
        not_a_video.returncode == 2 and "not an MP4, QuickTime or WebM video" in not_a_video.stderr
    )
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_video(64, 36, frames=24, fps=24))
    # The reference reaches the server, which refuses it for aleph2 (keyframes, no references).
    refused = vidgen(
        working_server,
        "generate",
        "--video",
        str(clip),
        "--reference",
        str(frame),
        "-p",
        "x",
        "--json",
        cwd=tmp_path,
    )
    assert refused.returncode == 2, refused.stderr
    assert [e["field"] for e in json.loads(refused.stdout)["error"]["errors"]] == ["references"]
    assert list(tmp_path.glob("*.mp4")) == [clip]  # nothing was saved


def test_a_bad_key_exits_3_and_no_credits_exits_4(
    working_server: LiveServer, broke_key: str
) -> None:
    url = "data:image/png;base64,iVBORw0KGgo="
    bad_key = vidgen(working_server, "generate", url, key="vg_not_a_real_key")
    assert bad_key.returncode == 3 and "VIDGEN_API_KEY" in bad_key.stderr
    broke = vidgen(working_server, "generate", url, key=broke_key)
    assert broke.returncode == 4, broke.stderr
    assert "credits" in broke.stderr.lower()


def test_a_job_that_never_finishes_in_time_exits_5_and_is_left_running(
    idle_server: LiveServer, frame: Path
) -> None:
    result = vidgen(idle_server, "generate", str(frame), "--timeout", "1", "--json")
    assert result.returncode == 5, result.stderr
    gen_id = json.loads(result.stdout)["error"]["generation_id"]
    assert f"vidgen status {gen_id}" in result.stderr
    with sdk(idle_server) as client:
        assert client.generations.get(gen_id).status == "queued"
        client.generations.cancel(gen_id)


def test_a_generation_cancelled_elsewhere_exits_1_with_its_error(
    idle_server: LiveServer, frame: Path
) -> None:
    process, gen_id = start_waiting(idle_server, frame, "--json")
    with sdk(idle_server) as client:
        client.generations.cancel(gen_id)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    final = json.loads(stdout)  # the final generation, as on success
    assert (final["id"], final["status"], final["error"]["name"]) == (gen_id, "error", "Cancelled")
    assert b"Cancelled" in stderr


def test_unknown_ids_exit_6_and_an_unreachable_server_exits_7(working_server: LiveServer) -> None:
    unknown = vidgen(working_server, "status", "no-such-generation")
    assert unknown.returncode == 6 and "not found" in unknown.stderr.lower()
    nowhere = subprocess.run(
        [*VIDGEN, "models", "--base-url", f"http://127.0.0.1:{free_port()}"],
        env=client_env(working_server),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert nowhere.returncode == 7, nowhere.stderr
    assert "--base-url" in nowhere.stderr


def test_ids_are_taken_whole_and_a_partial_one_is_told_so(idle_server: LiveServer) -> None:
    with sdk(idle_server) as client:
        job = client.generations.create(image=make_image())
    try:
        for command in ("status", "cancel"):
            partial = vidgen(idle_server, command, job.id[:8])
            assert partial.returncode == 6, partial.stderr
            assert "whole id" in partial.stderr and "vidgen list" in partial.stderr
        assert vidgen(idle_server, "status", job.id).returncode == 0
    finally:
        with sdk(idle_server) as client:
            client.generations.cancel(job.id)


def test_ctrl_c_without_a_terminal_says_how_to_cancel_and_leaves_the_job(
    idle_server: LiveServer, frame: Path
) -> None:
    process, gen_id = start_waiting(idle_server, frame)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert f"vidgen cancel {gen_id}".encode() in stderr
    with sdk(idle_server) as client:
        assert client.generations.get(gen_id).status == "queued"
        client.generations.cancel(gen_id)


def read_until(
    fd: int, pattern: re.Pattern[bytes], seen: bytearray, timeout: float = 60
) -> re.Match[bytes]:
    deadline = time.monotonic() + timeout
    while (found := pattern.search(seen)) is None:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
    assert found, seen.decode(errors="replace")
    return found


def test_ctrl_c_at_a_terminal_asks_and_cancels_the_job(
    idle_server: LiveServer, frame: Path
) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*VIDGEN, "generate", str(frame)],
        env=client_env(idle_server, TERM="xterm", COLUMNS="120"),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        preexec_fn=default_sigint,
    )
    os.close(follower)
    seen = bytearray()
    try:
        gen_id = read_until(leader, UUID, seen).group().decode()
        read_until(leader, re.compile(rb"queued"), seen)
        process.send_signal(signal.SIGINT)
        read_until(leader, re.compile(rb"Cancel generation"), seen)
        os.write(leader, b"y\n")
        assert process.wait(timeout=60) == 130
        read_until(leader, re.compile(rb"Cancelled"), seen, timeout=5)
    finally:
        process.kill()
        os.close(leader)
    with sdk(idle_server) as client:
        state = client.generations.get(gen_id)
    assert state.status == "error" and state.error is not None and state.error.name == "Cancelled"


def test_status_list_cancel_and_models_as_text_and_json(idle_server: LiveServer) -> None:
    with sdk(idle_server) as client:
        jobs: list[Generation] = [
            client.generations.create(image=make_image(seed=i)) for i in range(2)
        ]
    newest = jobs[-1].id

    status = vidgen(idle_server, "status", newest)
    assert status.returncode == 0, status.stderr
    assert (
        newest in status.stdout
        and "queued" in status.stdout
        and "runway/gen4_turbo" in status.stdout
    )
    as_json = json.loads(vidgen(idle_server, "status", newest, "--json").stdout)
    assert (as_json["id"], as_json["status"]) == (newest, "queued")

    listed = vidgen(idle_server, "list", "--status", "queued")
    assert listed.returncode == 0 and all(job.id in listed.stdout for job in jobs)
    page = json.loads(vidgen(idle_server, "list", "--limit", "1", "--json").stdout)
    assert [g["id"] for g in page["data"]] == [newest] and page["has_more"]
    assert page["next_cursor"] == newest

    cancelled = vidgen(idle_server, "cancel", newest)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stderr
    again = json.loads(vidgen(idle_server, "cancel", jobs[0].id, "--json").stdout)
    assert again["status"] == "error" and again["error"]["name"] == "Cancelled"

    models = vidgen(idle_server, "models")
    assert models.returncode == 0
    assert "runway/gen4_turbo" in models.stdout and "1584x672" in models.stdout
    # The table's marks are explained in the output itself.
    assert "16:9 1280x720 *" in models.stdout
    assert "\n* the default ratio: used when a request gives no aspect_ratio" in models.stdout
    listed_models = json.loads(vidgen(idle_server, "models", "--json").stdout)["data"]
    assert [m["id"] for m in listed_models] == [spec.id for spec in Catalog.build()]


def drain(fd: int, seen: bytearray, wait: float) -> None:
    """Read what the terminal has, for up to ``wait`` seconds."""
    while select.select([fd], [], [], wait)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            return
        if not chunk:
            return
        seen += chunk


def test_the_progress_bar_shows_each_progress_value_the_server_reports(
    live_server_factory: Any, frame: Path, tmp_path: Path
) -> None:
    """A job long enough to report progress several times (the server records it once a
    second): every value a close watcher sees, the bar shows too, but for at most one."""
    server: LiveServer = live_server_factory(
        VIDGEN_ROUTES="runway/gen4_turbo=noop,gen3a_turbo=noop", VIDGEN_API_KEYS=CLI_KEY
    )
    server.start()
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*VIDGEN, "generate", str(frame), "--prompt", "sleep=8", "-o", str(tmp_path / "a.mp4")],
        env=client_env(server, TERM="xterm", COLUMNS="120"),
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = bytearray()
    watched: set[str] = set()
    try:
        gen_id = read_until(leader, UUID, seen).group().decode()
        with sdk(server) as client:
            while (state := client.generations.get(gen_id)).status != "completed":
                assert not state.is_final, state.raw
                if state.status == "generating" and state.progress is not None:
                    watched.add(f"{state.progress * 100:.0f}")
                drain(leader, seen, 0.1)
        assert process.wait(timeout=60) == 0, seen.decode(errors="replace")
        drain(leader, seen, 0.5)
    finally:
        process.kill()
        os.close(leader)
    shown = {m.decode() for m in re.findall(rb"(\d+)%", seen)}
    intermediate = watched - {"0", "100"}
    assert len(intermediate) >= 5, watched
    assert len(intermediate - shown) <= 1, (sorted(intermediate, key=int), sorted(shown, key=int))


def test_generate_follows_the_servers_event_stream(
    working_server: LiveServer, frame: Path, tmp_path: Path
) -> None:
    result = vidgen(working_server, "generate", str(frame), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (saved,) = tmp_path.glob("*.mp4")
    gen_id = saved.stem
    assert f"{gen_id}: completed" in result.stderr  # the view saw the end (from the stream)
    assert f"/v1/generations/{gen_id}/events" in working_server.output()
