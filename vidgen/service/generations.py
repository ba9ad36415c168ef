"""Generations for clients: submit, get, list, cancel and delete.

``submit`` validates a canonical request against the model's catalog entry (and what its engine
can honour), captures the inputs (images and videos fetched safely, verified, probed, their bytes
kept with the job), plans and prices its output (``core.output_plan``), and stores it as a queued job, with the charge in the same transaction. A 2xx is only
ever sent after that commit. Reads and cancels are scoped to the key that owns the generation;
for any other key the generation does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from vidgen.core.catalog import Catalog, ModelSpec
from vidgen.core.deadlines import CANCEL_AFTER, parse_cancel_after
from vidgen.core.events import ALL_EVENTS, FINAL_EVENTS
from vidgen.core.facts import JobFacts, KeyframeFacts, Position, WebhookSubscription
from vidgen.core.jobs import (
    IdempotencyClaim,
    IdempotencyRace,
    IdempotentMatch,
    NewJob,
    UnknownCursor,
    keyframe_position,
    reference_position,
)
from vidgen.core.keys import ApiKey
from vidgen.core.limits import RateLimiter
from vidgen.core.models import (
    CapturedImage,
    CapturedMedia,
    CapturedVideo,
    Generation,
    GenerationRequest,
    ImageRef,
    MediaRef,
    Status,
)
from vidgen.core.output_plan import plan_output
from vidgen.core.passthrough import take_extras
from vidgen.core.ports import (
    CaptureImage,
    CaptureMedia,
    CaptureVideo,
    CheckUrl,
    EngineRules,
    GenerationRepository,
)
from vidgen.core.validation import (
    IMAGE_KINDS,
    SEED_MAX,
    is_generation_id,
    text_errors,
    validate_request,
)
from vidgen.errors import (
    Conflict,
    FieldError,
    ImageSourceError,
    InsufficientCredits,
    InvalidRequest,
    MonthlyLimitReached,
    NotFound,
)
from vidgen.logs import generation_id_var, request_id_var
from vidgen.metrics import CREDITS_CHARGED, JOBS_SUBMITTED
from vidgen.service.uploads import UPLOAD_SCHEME, Uploads
from vidgen.settings import Settings

__all__ = ["GenerationService", "RemoveOutputs", "Submission", "month_start"]

log = logging.getLogger(__name__)

#: Remove whatever is stored under a generation's output keys (its video and thumbnail).
RemoveOutputs = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Submission:
    generation: Generation
    replayed: bool = False  # an Idempotency-Key replay: nothing new was stored or charged


class GenerationService:
    def __init__(
        self,
        *,
        generations: GenerationRepository,
        catalog: Catalog,
        engines: Mapping[str, EngineRules],
        capture_image: CaptureImage,
        check_webhook_url: CheckUrl,
        remove_outputs: RemoveOutputs,
        settings: Settings,
        limiter: RateLimiter | None = None,
        capture_video: CaptureVideo | None = None,
        capture_media: CaptureMedia | None = None,
        uploads: Uploads | None = None,
    ) -> None:
        self.generations = generations
        self.catalog = catalog
        self.engines = engines
        self.capture_image = capture_image
        self.capture_video = capture_video
        self.capture_media = capture_media
        self.uploads = uploads
        self.check_webhook_url = check_webhook_url
        self.remove_outputs = remove_outputs
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings.rate_limit_per_minute)

    async def submit(self, key: ApiKey, request: GenerationRequest) -> Submission:
        """Validate, capture, price and durably queue a generation.

        Raises InvalidRequest (every field at fault), InsufficientCredits, RateLimited, or
        Conflict (an Idempotency-Key reused with another request); on any of them nothing is
        stored and nothing is charged. The same Idempotency-Key with the same request within
        24 h returns the original generation instead (``Submission.replayed``).
        """
        if problems := text_errors(request):
            raise InvalidRequest(problems)
        idempotency = _idempotency_claim(request)
        if idempotency is not None:
            match = await self.generations.find_idempotent(key.id, idempotency.key)
            if match is not None:
                return await self._replay(key, match, idempotency)
        self.limiter.check(key.id, per_minute=key.rate_limit_per_minute)
        request = await self._resolve_uploads(key, request)
        spec = self.catalog.get(request.model)
        if self.catalog.retired_here(spec.id) is not None:
            spec = self._substitute(spec)
            request = replace(request, model=spec.id)
        if request.kind is None and spec.only_kind is not None:
            # A dialect that names no kind (aimlapi's one create route): the model's only one.
            request = replace(request, kind=spec.only_kind)
        engine_name = self.catalog.engine_for(spec.id)
        request, errors = take_extras(spec, request)
        errors += validate_request(spec, request) + await self._webhook_errors(request)
        cancel_after = None
        if request.cancel_after is not None:
            try:
                cancel_after = parse_cancel_after(request.cancel_after)
            except ValueError as exc:
                errors.append(FieldError(CANCEL_AFTER, str(exc), location="header"))
        engine = self.engines.get(engine_name)
        if engine is not None:
            errors += engine.validate(spec, request)
        if errors:
            raise InvalidRequest(errors)

        if request.resolved_kind in IMAGE_KINDS:
            # Fail fast before fetching images; the authoritative check is in the transaction.
            # (An input video's price is known only once it is probed.)
            price = spec.price(request.duration or spec.default_duration)
            if key.credits is not None and key.credits < price:
                raise InsufficientCredits(required=price, available=key.credits)

        inputs = await self._capture_all(request)
        first = _as_image(inputs.get("first"))
        plan = plan_output(
            spec,
            request,
            first=first,
            video=_as_video(inputs.get("video")),
            character=inputs.get("character"),
            performance=_as_video(inputs.get("performance")),
        )
        price = plan.credits
        await self._check_monthly_limit(key, price)
        seed = request.seed if request.seed is not None else secrets.randbelow(SEED_MAX + 1)

        job_id = str(uuid.uuid4())
        facts = JobFacts(
            request_id=request_id_var.get(),
            base_url=request.base_url,
            sources=_describe_sources(request),
            webhook=WebhookSubscription(
                url=request.webhook_url, events=tuple(request.webhook_events or FINAL_EVENTS)
            )
            if request.webhook_url
            else None,
            keyframes=tuple(
                KeyframeFacts(seconds=mark.seconds, at=mark.at, range=mark.range)
                for mark in request.keyframes
            ),
            options=dict(request.options),
        )
        new_job = NewJob(
            id=job_id,
            key_id=key.id,
            priority=key.priority,
            model=spec.id,
            engine=engine_name,
            dialect=request.dialect,
            prompt=request.prompt,
            aspect_ratio=plan.aspect_ratio,
            width=plan.width,
            height=plan.height,
            duration=plan.duration,
            fps=plan.fps,
            frames=plan.frames,
            seed=seed,
            credits=price,
            max_attempts=self.settings.max_attempts,
            first_image=first,
            last_image=_as_image(inputs.get("last")),
            facts=facts,
            kind=request.resolved_kind,
            other_inputs={
                position: item
                for position, item in inputs.items()
                if position not in ("first", "last")
            },
            cancel_after=cancel_after,
        )
        try:
            generation = await self.generations.create(new_job, idempotency=idempotency)
        except IdempotencyRace:
            assert idempotency is not None
            match = await self.generations.find_idempotent(key.id, idempotency.key)
            if match is None:  # pragma: no cover - the winner's row is there by definition
                raise
            return await self._replay(key, match, idempotency)
        JOBS_SUBMITTED.labels(spec.id, request.dialect).inc()
        CREDITS_CHARGED.labels(spec.id, request.dialect).inc(price)
        generation_id_var.set(job_id)
        log.info(
            "generation queued",
            extra={"model": spec.id, "engine": engine_name, "credits": price, "key_id": key.id},
        )
        return Submission(generation)

    def _substitute(self, spec: ModelSpec) -> ModelSpec:
        """The operator's substitute for a model retired where it is routed
        (``VIDGEN_MODEL_SUBSTITUTES``, checked at start-up), or a 400 naming ``model``. The
        request is then the substitute's in every respect: its rules, sizes and price, and its
        id on the stored generation, since that is the model that made the video."""
        for name, substitute in self.settings.model_substitutes.items():
            if self.catalog.find(name) is spec:
                return self.catalog.get(substitute)
        retired = spec.retired
        assert retired is not None
        raise InvalidRequest.single(
            "model",
            "{model} was retired by its provider on {on} and this server routes it to "
            "{engine!r}, which can no longer serve it{note}; choose another model",
            model=spec.id,
            on=retired.on,
            engine=retired.engine,
            note=f" ({retired.note})" if retired.note else "",
        )

    async def _check_monthly_limit(self, key: ApiKey, price: int) -> None:
        """A key with a monthly credit limit may not start a generation that would take its
        net spending this UTC calendar month past it. Checked before the create's transaction,
        not in it: creates racing each other can pass together, which only a key's own
        concurrent requests can do (the balance, not this limit, is what guards money)."""
        limit = key.monthly_credit_limit
        if limit is None:
            return
        spent = await self.generations.spent_since(key.id, month_start(datetime.now(UTC)))
        if spent + price > limit:
            raise MonthlyLimitReached(limit=limit, spent=spent, price=price)

    async def _replay(
        self, key: ApiKey, match: IdempotentMatch, claim: IdempotencyClaim
    ) -> Submission:
        if match.fingerprint != claim.fingerprint:
            raise Conflict(
                f"Idempotency-Key {claim.key!r} was already used in the last 24 hours with a "
                "different request. Send a new key for a new request."
            )
        generation = await self.get(key, match.job_id)
        log.info("idempotent replay", extra={"generation": generation.id})
        return Submission(generation, replayed=True)

    async def _webhook_errors(self, request: GenerationRequest) -> list[FieldError]:
        errors: list[FieldError] = []
        if request.webhook_events is not None:
            unknown = sorted(set(request.webhook_events) - set(ALL_EVENTS))
            if not request.webhook_events:
                # No event at all cannot be what a webhook URL is for; the default is the field
                # left out, so an empty list is more likely a client's bug than a choice.
                errors.append(
                    FieldError(
                        "webhook_events",
                        "must name at least one event; leave it out for the default "
                        f"({', '.join(FINAL_EVENTS)})",
                    )
                )
            elif unknown:
                errors.append(
                    FieldError(
                        "webhook_events",
                        f"unknown event(s) {', '.join(unknown)}; use {', '.join(ALL_EVENTS)}",
                    )
                )
        if request.webhook_url is not None:
            if len(request.webhook_url) > 2000:
                errors.append(FieldError("webhook_url", "must be at most 2000 characters"))
            elif (reason := await self.check_webhook_url(request.webhook_url)) is not None:
                errors.append(FieldError("webhook_url", reason))
        elif request.webhook_events:
            errors.append(FieldError("webhook_events", "needs a webhook URL as well"))
        return errors

    async def _resolve_uploads(self, key: ApiKey, request: GenerationRequest) -> GenerationRequest:
        """Every input named by an upload URI (``runway://…``), replaced by the calling key's
        uploaded bytes, which are then captured as any input is."""
        uploads = self.uploads

        async def bytes_of(field: str, ref: ImageRef | None) -> ImageRef | None:
            if ref is None or ref.url is None or not ref.url.startswith(UPLOAD_SCHEME):
                return ref
            if uploads is None:
                raise InvalidRequest.single(field, "uploads are not taken by this server")
            return ImageRef(data=await uploads.resolve(key.id, ref.url, field), filename=ref.url)

        first = await bytes_of("first_image", request.first_image)
        last = await bytes_of("last_image", request.last_image)
        references = [
            await bytes_of(f"references.{i}", ref) for i, ref in enumerate(request.references)
        ]
        keyframes = [
            replace(mark, image=await bytes_of(f"keyframes.{i}", mark.image) or mark.image)
            for i, mark in enumerate(request.keyframes)
        ]
        return replace(
            request,
            first_image=first,
            last_image=last,
            references=tuple(ref for ref in references if ref is not None),
            keyframes=tuple(keyframes),
            video=await bytes_of("video", request.video),
            character=await bytes_of("character", request.character),
            performance=await bytes_of("performance", request.performance),
        )

    async def _capture_all(self, request: GenerationRequest) -> dict[str, CapturedMedia]:
        """Every input, captured at once, by its stored position (``core.jobs``). Each failure
        is reported on the field the client sent it in (``references.2``, ``video``…)."""
        wanted: list[tuple[str, str, Awaitable[CapturedMedia]]] = []

        def image(position: str, field: str, ref: ImageRef | None) -> None:
            if ref is not None:
                wanted.append((position, field, self.capture_image(ref)))

        def video(position: str, field: str, ref: MediaRef | None, any_media: bool) -> None:
            if ref is None:
                return
            capture = self.capture_media if any_media else self.capture_video
            if capture is None:  # pragma: no cover - the wiring gives both
                raise InvalidRequest.single(field, "videos are not taken by this server")
            wanted.append((position, field, capture(ref)))

        image("first", "first_image", request.first_image)
        image("last", "last_image", request.last_image)
        for index, ref in enumerate(request.references):
            image(reference_position(index), f"references.{index}", ref)
        for index, mark in enumerate(request.keyframes):
            image(keyframe_position(index), f"keyframes.{index}", mark.image)
        video("video", "video", request.video, any_media=False)
        video("character", "character", request.character, any_media=True)
        video("performance", "performance", request.performance, any_media=False)
        results = await asyncio.gather(*(w[2] for w in wanted), return_exceptions=True)
        captured: dict[str, CapturedMedia] = {}
        errors: list[FieldError] = []
        for (position, field, _), result in zip(wanted, results, strict=True):
            if isinstance(result, ImageSourceError):
                errors.append(FieldError(field, result.reason))
            elif isinstance(result, BaseException):
                raise result
            else:
                captured[position] = result
        if errors:
            raise InvalidRequest(errors)
        return captured

    async def get(self, key: ApiKey, generation_id: str) -> Generation:
        generation = (
            await self.generations.get(generation_id, key_id=key.id)
            if is_generation_id(generation_id)
            else None
        )
        if generation is None:
            raise _not_found(generation_id)
        return generation

    async def list(
        self,
        key: ApiKey,
        *,
        limit: int = 20,
        after: str | None = None,
        statuses: Collection[Status] | None = None,
        newest_first: bool = True,
    ) -> tuple[list[Generation], bool]:
        """A page of the key's generations (newest first by default) and whether more follow.
        ``after`` must be the id of one of the key's generations: a cursor that names nothing
        is a client's bug (a truncated or another key's id), so it is a 400, not an empty page
        that reads as "no more"."""
        if after is not None and not after.strip():
            raise InvalidRequest(
                [FieldError("after", "must not be empty; omit it for the first page")],
                "Query validation error!",
            )
        if after is not None and not is_generation_id(after):
            raise _unknown_cursor(after)
        try:
            return await self.generations.list(
                key.id, limit=limit, after=after, statuses=statuses, newest_first=newest_first
            )
        except UnknownCursor:
            raise _unknown_cursor(after) from None

    async def is_throttled(self, key: ApiKey, generation: Generation) -> bool:
        """A queued generation waits because its key runs as many jobs as it may at once."""
        if generation.status is not Status.QUEUED or key.max_concurrency is None:
            return False
        return await self.generations.running_count(key.id) >= key.max_concurrency

    async def cancel(self, key: ApiKey, generation_id: str) -> Generation:
        """Cancel: queued → cancelled at once; running → stopped at the engine's next check;
        finished → unchanged. Credits of a cancelled generation are refunded.

        The answer is what happens: a generation answered as still running once its cancel
        is accepted ends cancelled and refunded, even if its engine had already finished (the
        worker's completion loses to the cancel, see ``store.jobs.JobStore.complete``); one
        that finished first is answered as it finished."""
        generation = (
            await self.generations.request_cancel(generation_id, key.id)
            if is_generation_id(generation_id)
            else None
        )
        if generation is None:
            raise _not_found(generation_id)
        return generation

    async def delete(self, key: ApiKey, generation_id: str) -> Generation:
        """Delete: cancel it if it is still active, hide it from every read (404), and remove
        its stored files. A running one never completes (its cancel wins, refunded) and its
        worker removes what it stored; a finished one's files are removed here."""
        generation = (
            await self.generations.delete(generation_id, key.id)
            if is_generation_id(generation_id)
            else None
        )
        if generation is None:
            raise _not_found(generation_id)
        if generation.status.is_final:
            await self.remove_outputs(generation.id)
        return generation


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of ``now``'s month: where a monthly limit starts again."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _as_image(item: CapturedMedia | None) -> CapturedImage | None:
    return item if isinstance(item, CapturedImage) else None


def _as_video(item: CapturedMedia | None) -> CapturedVideo | None:
    return item if isinstance(item, CapturedVideo) else None


def _unknown_cursor(after: str | None) -> InvalidRequest:
    return InvalidRequest(
        [
            FieldError(
                "after",
                f"{after!r} is not a generation of this key; pass the last id of the previous page",
            )
        ],
        "Query validation error!",
    )


def _not_found(generation_id: str) -> NotFound:
    # repr(): an id may hold any character a client sent (it is not one of ours).
    return NotFound(f"Generation {generation_id!r} not found.")


def _idempotency_claim(request: GenerationRequest) -> IdempotencyClaim | None:
    key = request.idempotency_key
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise InvalidRequest.single(
            "idempotency_key", "must be 1 to 255 characters", location="header"
        )
    if request.fingerprint is None:  # pragma: no cover - every dialect computes one
        raise ValueError("a request with an Idempotency-Key needs a fingerprint")
    return IdempotencyClaim(key=key, fingerprint=request.fingerprint)


def _describe_sources(request: GenerationRequest) -> dict[Position, str]:
    """Where each image came from, for echoing back (never the bytes of a data URI)."""
    refs: tuple[tuple[Position, ImageRef | None], ...] = (
        ("first", request.first_image),
        ("last", request.last_image),
    )
    return {name: ref.describe() for name, ref in refs if ref is not None}
