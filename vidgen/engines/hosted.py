"""What the engines of model hosts share (replicate, fal, gemini): one API key, the models'
ids at the host (from the catalog), and the provider's official client, imported only when a
job needs it.

A host sells one model as one or two endpoints: image to video and text to video (fal's
``…/image-to-video`` and ``…/text-to-video``, Replicate's ``wan-2.5-i2v`` and ``wan-2.5-t2v``) or
one that takes an optional image (Veo on the Gemini API). A catalog entry names them in its
``hosts`` table (``core.model_spec.HostedIds``); a job with a first image goes to the first, a
prompt alone to the second. So a model a host adds is one catalog entry, no code, where it takes
the fields that the engine already sends to that family (see each engine's translation).

The clients are an optional extra (``pip install 'vidgen-api[providers]'``): a server that routes no
model to a host starts without them, and one that does is told at start-up what to install.
"""

from __future__ import annotations

import importlib.util
from abc import abstractmethod
from typing import ClassVar

from pydantic import SecretStr

from vidgen.core.catalog import BUILTIN_MODELS, ModelSpec
from vidgen.core.model_spec import HostedIds
from vidgen.core.models import GenerationRequest
from vidgen.engines.base import EngineJob
from vidgen.engines.policy import Provider
from vidgen.engines.upstream import UpstreamEngine
from vidgen.errors import EngineError, FieldError
from vidgen.settings import Settings

__all__ = ["HostedEngine"]


class HostedEngine(UpstreamEngine):
    """An engine for one model host. Subclasses set ``host`` (who, and the variable of its key),
    ``client_module`` (the official client's import name) and ``credential``."""

    host: ClassVar[Provider]
    client_module: ClassVar[str]
    client_package: ClassVar[str]  # its name on PyPI

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if "host" in cls.__dict__:
            cls.provider = cls.host.name

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # The ids of the catalog entries this engine admitted (model_problem), for create time;
        # built-in entries are found without it (an engine built for one job, in tests).
        self._ids: dict[str, HostedIds] = {}

    @abstractmethod
    def credential(self) -> SecretStr | None:
        """The key from the settings."""

    def configuration_problem(self) -> str | None:
        key = self.credential()
        if key is None:
            return f"set {self.host.credential} to a {self.host.name} API key"
        if not key.get_secret_value().strip():
            return f"{self.host.credential} is empty"
        if importlib.util.find_spec(self.client_module) is None:
            return (
                f"the {self.client_package} package is not installed: "
                "pip install 'vidgen-api[providers]'"
            )
        return None

    def model_problem(self, spec: ModelSpec) -> str | None:
        ids = spec.hosts.get(self.name)
        if ids is None:
            return (
                f"its catalog entry names no {self.host.name} endpoint "
                f"(a hosts.{self.name} table with the host's ids)"
            )
        self._ids[spec.id] = ids
        return None

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
        ids = spec.hosts.get(self.name)
        if ids is None:  # refused at start-up already
            return [
                FieldError.naming(
                    spec.id, "model", "{model} cannot be served by {host}", host=self.host.name
                )
            ]
        if ids.requires_prompt and not request.prompt.strip():
            return [
                FieldError.naming(spec.id, "prompt", "is required by {model}, also with an image")
            ]
        return []

    def secret(self) -> str:
        key = self.credential()
        if key is None:  # configuration_problem stops start-up before this
            raise EngineError(f"{self.host.credential} is not set.", name="NotConfigured")
        return key.get_secret_value()

    def model_for(self, job: EngineJob) -> HostedIds:
        ids = self._ids.get(job.model) or _builtin_ids(job.model, self.name)
        if ids is None:
            raise EngineError(
                f"{job.model} cannot be served by {self.host.name}.", name="NotSupported"
            )
        return ids

    def endpoint(self, job: EngineJob) -> str:
        """The host's id of the endpoint that serves ``job``: image to video when it has a
        first image, text to video when it has a prompt alone."""
        ids = self.model_for(job)
        endpoint = ids.image_to_video if job.first_image is not None else ids.text_to_video
        if endpoint is None:  # the catalog entry's kinds keep such a job out
            raise EngineError(
                f"{job.model} has no {self.host.name} endpoint for this request.",
                name="NotSupported",
            )
        return endpoint

    def duration(self, job: EngineJob) -> int | str:
        fmt = self.model_for(job).duration_format
        return job.duration if fmt is None else fmt.format(job.duration)


def _builtin_ids(model_id: str, engine: str) -> HostedIds | None:
    for spec in BUILTIN_MODELS:
        if spec.id == model_id:
            return spec.hosts.get(engine)
    return None
