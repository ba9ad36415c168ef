"""The runway engine: real Runway videos through Runway's API and its official SDK (``runwayml``).

A job becomes one create at the endpoint of its kind (``ENDPOINTS``: ``POST /v1/text_to_video``,
``/v1/image_to_video``, ``/v1/video_to_video``, ``/v1/character_performance`` or
``/v1/video_upscale``, through the SDK's resource of that name), polled
with ``GET /v1/tasks/{id}`` and cancelled with ``DELETE /v1/tasks/{id}`` (API-NOTES §3). The loop
around them (record the task id, resume, retry, copy the output) is ``upstream.UpstreamEngine``.

Translation. gen4_turbo and gen3a_turbo keep their hand-written table (``RUNWAY_MODELS``); every
other catalog model whose ``engines`` name ``runway`` is asked under its Runway name with its
frame size as ``ratio`` (``ModelSpec.ratio_name``) and its options as the SDK names them. For
the seed-era two:

- ``aspect_ratio`` → Runway's pixel ``ratio`` (``16:9`` → ``1280:720`` on gen4_turbo,
  ``1280:768`` on gen3a_turbo); ``prompt`` → ``promptText`` (left out when empty: Runway wants it
  non-empty if present); ``duration`` and ``seed`` as they are.
- The captured input images go inline as data URIs (Runway takes at most 5 MiB of data URI; a
  larger image is re-encoded as JPEG, see ``media.data_uri.to_data_uri``). With a tail image,
  ``promptImage`` becomes ``[{uri, position: "first"}, {uri, position: "last"}]``; on a model
  with no last-frame position (gen4_turbo) a tail image is refused at submit with a 400.

Input videos go inline too where their data URI fits in 5 MiB. A larger one cannot be made
smaller without changing what is asked, so it is uploaded first (``uploads.create_ephemeral``:
``POST /v1/uploads``, then the file posted to the presigned URL it answers) and the task names
the ``runway://`` URI it gives back. Images stay re-encoded rather than uploaded: the re-encode
also stands a photo upright that an EXIF tag turns (Runway may not honour the tag), and a JPEG
under 5 MiB keeps more detail than any output size needs. An upload is free and ephemeral, so a
worker that dies between the upload and the create just uploads again on the retry.

video_to_video names the input video per model (``ModelSpec.video_names``: ``promptVideo`` for
Kling O3, Hailuo 3 and Seedance, ``videoUri`` for the rest) and sends reference images as
``{uri}``, the item every model of the SDK (5.24) takes (Kling O3 adds an optional position,
which a reference image leaves out).

Why the SDK's own retries are off (``max_retries=0``): vidgen retries in one place, with one
policy, inside the job's time limit and visibly in its logs. The SDK would also retry 409 and
every 5xx, including a create whose answer was lost, with no idempotency key Runway honours,
which is a second paid task; and its retries would multiply with ours and hide a cancel.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeVar

import httpx
import runwayml
from pydantic.alias_generators import to_snake

from vidgen.core.catalog import BUILTIN_MODELS, Catalog, ModelSpec
from vidgen.core.models import CapturedImage, CapturedVideo, GenerationRequest, Kind
from vidgen.engines.base import EngineJob
from vidgen.engines.policy import (
    Provider,
    TransientUpstreamError,
    http_error,
    parse_retry_after,
    transport_error,
)
from vidgen.engines.upstream import Phase, TaskStatus, UpstreamEngine
from vidgen.errors import EngineError, FieldError
from vidgen.media.data_uri import to_data_uri
from vidgen.settings import Settings

__all__ = ["RUNWAY_MODELS", "RunwayEngine", "RunwayModel", "Upload", "describe_api_error"]

#: Runway's limit on one data URI: "under 5MB (1024 × 1024 × 5 bytes)" of encoded text.
MAX_DATA_URI_CHARS: Final = 5 * 1024 * 1024 - 1
#: Runway counts prompt length in UTF-16 code units, not characters (an emoji counts twice).
MAX_PROMPT_UNITS: Final = 1000
_T = TypeVar("_T")
#: The SDK resource (and Runway endpoint, ``POST /v1/<name>``) for each kind.
ENDPOINTS: Final[Mapping[Kind, str]] = MappingProxyType(
    {
        Kind.TEXT_TO_VIDEO: "text_to_video",
        Kind.IMAGE_TO_VIDEO: "image_to_video",
        Kind.VIDEO_TO_VIDEO: "video_to_video",
        Kind.CHARACTER_PERFORMANCE: "character_performance",
        Kind.UPSCALE: "video_upscale",
        Kind.FRAME_RATE: "video_upscale",
    }
)
#: Endpoints whose body has no promptText.
_NO_PROMPT: Final = frozenset({Kind.CHARACTER_PERFORMANCE, Kind.UPSCALE, Kind.FRAME_RATE})
BUILTIN: Final = Catalog.build(BUILTIN_MODELS)
RUNWAY: Final = Provider("Runway", credential="RUNWAYML_API_SECRET")
_TIMEOUT: Final = httpx.Timeout(60.0, connect=5.0)


@dataclass(frozen=True)
class RunwayModel:
    """How one of our public models is asked of Runway."""

    name: str  # Runway's model id
    ratios: Mapping[str, str]  # our aspect ratio → Runway's ``ratio``
    last_frame: bool  # whether promptImage takes a ``position: "last"`` image


RUNWAY_MODELS: Final[Mapping[str, RunwayModel]] = MappingProxyType(
    {
        "runway/gen4_turbo": RunwayModel(
            name="gen4_turbo",
            ratios=MappingProxyType(
                {
                    "16:9": "1280:720",
                    "9:16": "720:1280",
                    "4:3": "1104:832",
                    "3:4": "832:1104",
                    "1:1": "960:960",
                    "21:9": "1584:672",
                }
            ),
            last_frame=False,
        ),
        # Removed from Runway's published schema in 2026 (and from the SDK's types); sent as
        # the API always took it while Runway still accepts it.
        "gen3a_turbo": RunwayModel(
            name="gen3a_turbo",
            ratios=MappingProxyType({"16:9": "1280:768", "9:16": "768:1280"}),
            last_frame=True,
        ),
    }
)


class RunwayEngine(UpstreamEngine):
    """Proxies jobs to Runway's API. See the module docstring."""

    name = "runway"
    provider = "Runway"
    description = "Runway's own API (RUNWAYML_API_SECRET); each video is copied into vidgen."

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._client: runwayml.AsyncRunwayML | None = None
        # The catalog entries this engine admitted (model_problem), for their Runway names,
        # ratios and fields at create time; built-in entries are found without it.
        self._specs: dict[str, ModelSpec] = {}

    # -- configuration and submit-time checks ------------------------------------------------

    def configuration_problem(self) -> str | None:
        if self.settings.runwayml_api_secret is None:
            return "set RUNWAYML_API_SECRET to a Runway API key (key_…)"
        if not self.settings.runwayml_api_secret.get_secret_value().strip():
            return "RUNWAYML_API_SECRET is empty"
        return None

    def model_problem(self, spec: ModelSpec) -> str | None:
        legacy = RUNWAY_MODELS.get(spec.id)
        if legacy is None:
            if "runway" not in spec.engines:
                return (
                    "Runway serves only the catalog's models that list runway among their "
                    f"engines; {spec.id} does not"
                )
            self._specs[spec.id] = spec
            return None
        missing = [ratio for ratio in spec.ratios if ratio not in legacy.ratios]
        if missing:
            return f"Runway's {legacy.name} has no size for {', '.join(missing)}"
        return None

    def routes_by_default(self, spec: ModelSpec) -> bool:
        # A key alone keeps routing what it always routed; the catalog's other Runway models
        # go to Runway only where VIDGEN_ROUTES says so (they cost more, and an operator who
        # set a key for gen4_turbo should not find gen4.5 billed to it).
        return spec.id in RUNWAY_MODELS and self.model_problem(spec) is None

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
        model = RUNWAY_MODELS.get(spec.id)
        if model is None and self.model_problem(spec) is not None:
            return [FieldError.naming(spec.id, "model", "{model} cannot be served by Runway")]
        last_frame = model.last_frame if model is not None else spec.accepts_last_image
        errors: list[FieldError] = []
        if request.last_image is not None and not last_frame:
            errors.append(
                FieldError.naming(
                    spec.id,
                    "last_image",
                    "{model} on Runway has no last-frame position, so a tail image cannot be "
                    "honoured; send only the first image",
                )
            )
        units = len(request.prompt.encode("utf-16-le")) // 2
        if units > MAX_PROMPT_UNITS:
            errors.append(
                FieldError(
                    "prompt",
                    f"must be at most {MAX_PROMPT_UNITS} UTF-16 code units for Runway "
                    f"(got {units}; some characters, such as emoji, count twice)",
                )
            )
        return errors

    # -- the three calls ---------------------------------------------------------------------

    @property
    def client(self) -> runwayml.AsyncRunwayML:
        if self._client is None:
            secret = self.settings.runwayml_api_secret
            if secret is None:  # configuration_problem stops start-up before this
                raise EngineError("RUNWAYML_API_SECRET is not set.", name="NotConfigured")
            self._client = runwayml.AsyncRunwayML(
                api_key=secret.get_secret_value(),
                base_url=self.settings.runway_base_url,
                max_retries=0,  # see the module docstring
                timeout=_TIMEOUT,
            )
        return self._client

    async def close_client(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def create_task(self, job: EngineJob) -> str:
        spec = self._specs.get(job.model) or BUILTIN.find(job.model)
        body = await asyncio.to_thread(runway_request, job, spec)
        body = await self._upload_large_inputs(body)
        # Through Any: the SDK's overloads type each model separately, and gen3a_turbo is no
        # longer among them, though the endpoint takes it.
        resource: Any = getattr(self.client, ENDPOINTS[job.kind])
        with translate_errors(f"creating the {body['model']} task"):
            created = await resource.create(**body)
        task_id = getattr(created, "id", None)
        if not isinstance(task_id, str) or not task_id:
            raise EngineError("Runway accepted the task but returned no id.", name="BadUpstream")
        return task_id

    async def _upload_large_inputs(self, value: Any) -> Any:
        """``value`` with each ``Upload`` in it uploaded and replaced by its ``runway://`` URI."""
        if isinstance(value, Upload):
            with translate_errors(f"uploading the {value.what}"):
                uploaded = await self.client.uploads.create_ephemeral(
                    file=(value.filename, value.data, value.media_type)
                )
            return uploaded.uri
        if isinstance(value, dict):
            return {k: await self._upload_large_inputs(v) for k, v in value.items()}
        if isinstance(value, list):
            return [await self._upload_large_inputs(v) for v in value]
        return value

    async def get_task(self, task_id: str) -> TaskStatus:
        # The raw JSON, not the SDK's typed union: it must keep working when Runway adds a
        # field, or spells CANCELLED as CANCELED, as some of its clients do.
        with translate_errors(f"reading task {task_id}"):
            response = await self.client.tasks.with_raw_response.retrieve(task_id)
        try:
            task = response.http_response.json()
        except ValueError as exc:
            raise TransientUpstreamError("Runway answered a task poll with no JSON") from exc
        if not isinstance(task, dict):
            raise TransientUpstreamError("Runway answered a task poll with no task")
        return task_status(task)

    async def cancel_task(self, task_id: str) -> None:
        with translate_errors(f"cancelling task {task_id}"):
            await self.client.tasks.delete(task_id)


# -- translation (pure functions, unit-tested) -----------------------------------------------


def runway_request(job: EngineJob, spec: ModelSpec | None = None) -> dict[str, Any]:
    """The SDK's ``create`` arguments (snake_case; the SDK spells them as Runway does) for
    ``job`` on the endpoint ``ENDPOINTS[job.kind]``, with an ``Upload`` where an input video is
    too large to go inline. CPU work (data URIs): run it in a thread.
    Raises EngineError for what submit-time validation should have refused."""
    legacy = RUNWAY_MODELS.get(job.model)
    if spec is None:
        spec = BUILTIN.find(job.model)
    if legacy is None and (spec is None or "runway" not in spec.engines):
        raise EngineError(f"{job.model} cannot be served by Runway.", name="NotSupported")
    if job.kind not in ENDPOINTS:
        raise EngineError(f"Runway has no endpoint for {job.kind.value}.", name="NotSupported")
    body: dict[str, Any] = {"model": legacy.name if legacy else _runway_name(spec)}
    takes_ratio = legacy is not None or (spec is not None and bool(spec.ratios_for(job.kind)))
    if takes_ratio:
        ratio = _ratio(job, legacy, spec)
        if ratio is None:
            raise EngineError(
                f"{job.model} on Runway has no {job.aspect_ratio} size.", name="NotSupported"
            )
        body["ratio"] = ratio
    if job.kind in (Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO):
        body["duration"] = job.duration
    if job.kind is not Kind.UPSCALE and job.kind is not Kind.FRAME_RATE:
        body["seed"] = job.seed
    if job.kind is Kind.IMAGE_TO_VIDEO:
        body["prompt_image"] = _prompt_image(job, legacy, spec)
    elif job.kind is Kind.VIDEO_TO_VIDEO:
        field = to_snake(spec.video_name_in("runway", "videoUri") if spec else "videoUri")
        body[field] = _inline_video(_need(job.video, job, "an input video"), "input video")
        if job.keyframes:
            # Runway takes a keyframe's moment in the client's own form: ``seconds`` from the
            # start, or ``at``, a fraction of the input's length; and its edit window, if any.
            body["keyframes"] = [
                {"uri": _inline(image, f"keyframe {i + 1}")}
                | ({"seconds": seconds} if seconds is not None else {"at": at})
                | ({"range": {"start_seconds": w[0], "end_seconds": w[1]}} if w else {})
                for i, (image, seconds, at, w) in enumerate(job.keyframes)
            ]
    elif job.kind is Kind.CHARACTER_PERFORMANCE:
        character = job.character
        if character is None:
            raise EngineError(f"{job.model} on Runway needs a character.", name="NotSupported")
        body["character"] = (
            {"type": "image", "uri": _inline(character, "character image")}
            if isinstance(character, CapturedImage)
            else {"type": "video", "uri": _inline_video(character, "character video")}
        )
        performance = _need(job.performance, job, "a reference performance")
        body["reference"] = {"type": "video", "uri": _inline_video(performance, "reference")}
    elif job.kind in (Kind.UPSCALE, Kind.FRAME_RATE):
        body["video_uri"] = _inline_video(_need(job.video, job, "an input video"), "input video")
    if job.references:
        # ``[{uri}]``: the reference item every model of Runway's that takes references takes,
        # in text, image and video to video alike.
        body["references"] = [
            {"uri": _inline(image, f"reference image {i + 1}")}
            for i, image in enumerate(job.references)
        ]
    if job.prompt.strip() and job.kind not in _NO_PROMPT:
        body["prompt_text"] = job.prompt
    # The model's own fields, already validated against the catalog; their canonical names are
    # the SDK's own (body_control, expression_intensity, fps_boost, target_framerate...).
    body.update({name: value for name, value in job.options.items() if value is not None})
    return body


def _runway_name(spec: ModelSpec | None) -> str:
    assert spec is not None  # runway_request checked it
    return spec.name_in("runway")


def _ratio(job: EngineJob, legacy: RunwayModel | None, spec: ModelSpec | None) -> str | None:
    if legacy is not None:
        return legacy.ratios.get(job.aspect_ratio)
    if spec is None or job.aspect_ratio not in spec.ratios_for(job.kind):
        return None
    return spec.ratio_name(job.aspect_ratio)


def _prompt_image(
    job: EngineJob, legacy: RunwayModel | None, spec: ModelSpec | None
) -> str | list[dict[str, str]]:
    if job.first_image is None:
        raise EngineError(f"{job.model} on Runway needs a first image.", name="NotSupported")
    first = _inline(job.first_image, "first image")
    if job.last_image is None:
        return first
    last_frame = legacy.last_frame if legacy is not None else bool(spec and spec.accepts_last_image)
    if not last_frame:
        raise EngineError(f"{job.model} on Runway cannot take a last frame.", name="NotSupported")
    return [
        {"uri": first, "position": "first"},
        {"uri": _inline(job.last_image, "last image"), "position": "last"},
    ]


def _need(item: _T | None, job: EngineJob, what: str) -> _T:
    if item is None:
        raise EngineError(f"{job.model} on Runway needs {what}.", name="NotSupported")
    return item


@dataclass(frozen=True)
class Upload:
    """An input video too large for a data URI, to be uploaded to Runway before the create
    (``RunwayEngine._upload_large_inputs``) and named by the ``runway://`` URI it gets."""

    data: bytes = field(repr=False)
    media_type: str
    what: str

    @property
    def filename(self) -> str:
        # POST /v1/uploads asks for a file name; it carries the container's extension.
        return "input" + _VIDEO_EXTENSIONS.get(self.media_type, ".mp4")


_VIDEO_EXTENSIONS: Final = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm"}


def _inline_video(video: CapturedVideo, what: str) -> str | Upload:
    """A video as a data URI, or as an ``Upload`` where the data URI would be over Runway's
    5 MiB (a video cannot be re-encoded smaller without changing what is asked of it)."""
    uri_chars = len(f"data:{video.media_type};base64,") + (len(video.data) + 2) // 3 * 4
    if uri_chars > MAX_DATA_URI_CHARS:
        return Upload(video.data, video.media_type, what)
    encoded = base64.b64encode(video.data).decode("ascii")
    return f"data:{video.media_type};base64,{encoded}"


def _inline(image: CapturedImage, what: str) -> str:
    try:
        return to_data_uri(image, max_chars=MAX_DATA_URI_CHARS)
    except ValueError as exc:
        raise EngineError(f"The {what} is too large to send to Runway: {exc}.") from exc


def task_status(task: Mapping[str, Any]) -> TaskStatus:
    """A Runway task (``GET /v1/tasks/{id}``) in the words of ``upstream.Phase``."""
    state = str(task.get("status", "")).upper()
    if state in ("PENDING", "THROTTLED"):
        return TaskStatus(Phase.WAITING)
    if state == "RUNNING":
        progress = task.get("progress")
        return TaskStatus(
            Phase.RUNNING, progress=float(progress) if isinstance(progress, int | float) else None
        )
    if state == "SUCCEEDED":
        output = task.get("output")
        url = output[0] if isinstance(output, list) and output else None
        return TaskStatus(Phase.SUCCEEDED, output_url=url if isinstance(url, str) else None)
    if state == "FAILED":
        code = task.get("failureCode")
        failure = task.get("failure")
        return TaskStatus(
            Phase.FAILED,
            error_name=code if isinstance(code, str) and code else "FAILED",
            error_message=failure
            if isinstance(failure, str) and failure
            else "Runway reported that the generation failed.",
        )
    if state in ("CANCELLED", "CANCELED"):
        return TaskStatus(Phase.CANCELLED)
    raise EngineError(f"Runway reported an unknown task status {state[:40]!r}.", name="BadUpstream")


@contextmanager
def translate_errors(doing: str) -> Iterator[None]:
    """Turn the SDK's exceptions into ``TransientUpstreamError`` (worth retrying) or
    ``EngineError`` (final, with Runway's own message), saying what was being done."""
    try:
        yield
    except runwayml.APITimeoutError as exc:
        raise transport_error(RUNWAY, doing, timed_out=True) from exc
    except runwayml.APIConnectionError as exc:
        raise transport_error(RUNWAY, doing, timed_out=False) from exc
    except runwayml.APIStatusError as exc:
        raise http_error(
            RUNWAY,
            exc.status_code,
            describe_api_error(exc.body),
            doing,
            retry_after=parse_retry_after(exc.response.headers.get("retry-after")),
        ) from exc
    except runwayml.APIError as exc:  # an answer the SDK could not parse
        raise EngineError(
            f"Runway sent an answer vidgen cannot read ({doing}).", name="BadUpstream"
        ) from exc


def describe_api_error(body: object) -> str:
    """Runway's error body in one line. Its 400s read ``{"error": "...", "issues": [{"message",
    "path"}]}`` (zod-style; the exact shape is not promised), so every form is tolerated."""
    if isinstance(body, str):
        return body.strip()[:500]
    if not isinstance(body, dict):
        return ""
    head = body.get("error") or body.get("message") or ""
    parts = [str(head)] if head else []
    issues = body.get("issues")
    if isinstance(issues, list):
        for issue in issues[:5]:
            if isinstance(issue, dict) and issue.get("message"):
                path = ".".join(str(p) for p in issue.get("path") or [])
                parts.append(f"{path}: {issue['message']}" if path else str(issue["message"]))
    return "; ".join(parts)[:500]
