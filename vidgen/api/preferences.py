"""The headers every dialect's create takes beyond its body: ``Cancel-After`` (a deadline, see
``core.deadlines``) and ``Prefer: wait=N`` (hold the answer until the generation ends or N
seconds pass, as Replicate does). Read here, applied by the service."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from vidgen.core.deadlines import CANCEL_AFTER, PREFER, parse_wait
from vidgen.core.keys import ApiKey
from vidgen.core.models import Generation, GenerationRequest
from vidgen.errors import InvalidRequest
from vidgen.service import Service

__all__ = ["CreateOptions", "CreatePreferences"]


@dataclass(frozen=True)
class CreatePreferences:
    cancel_after: str | None
    #: Seconds to hold the answer (``Prefer: wait``, at most 60); None: answer at once.
    wait: int | None

    def apply(self, request: GenerationRequest) -> GenerationRequest:
        if self.cancel_after is None:
            return request
        return replace(request, cancel_after=self.cancel_after)

    async def hold(
        self, service: Service, key: ApiKey, generation: Generation, response: Response
    ) -> Generation:
        """The generation once it ended, or after the wait asked for; as it is without one."""
        if self.wait is None:
            return generation
        response.headers["Preference-Applied"] = f"wait={self.wait}"
        return await service.live.wait(key, generation, self.wait)

    @property
    def waited(self) -> bool:
        return self.wait is not None


def _create_preferences(
    request: Request,
    cancel_after: Annotated[
        str | None,
        Header(
            alias=CANCEL_AFTER,
            max_length=100,
            description="A deadline: a generation not finished this long after its create is "
            "cancelled and refunded (error `DeadlineExceeded`). `30s`, `5m`, `1h30m`, or "
            "seconds; 5s to 24h.",
        ),
    ] = None,
) -> CreatePreferences:
    # ``Prefer`` is read from the raw headers rather than declared: a documented ``wait``
    # would have every fuzzed create held for up to a minute. Several ``Prefer`` headers are
    # one list (RFC 9110, 5.3).
    prefer = request.headers.getlist("prefer")
    wait = None
    if prefer:
        try:
            wait = parse_wait(",".join(prefer))
        except ValueError as exc:
            raise InvalidRequest.single(PREFER, str(exc), location="header") from None
    return CreatePreferences(cancel_after=cancel_after, wait=wait)


CreateOptions = Annotated[CreatePreferences, Depends(_create_preferences)]
