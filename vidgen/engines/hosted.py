"""What the engines of model hosts share (replicate, fal, gemini): one API key, a table of the
models each sells, and the provider's official client, imported only when a job needs it.

A host sells one model as one or two endpoints: image to video and text to video (fal's
``…/image-to-video`` and ``…/text-to-video``, Replicate's ``wan-2.5-i2v`` and ``wan-2.5-t2v``) or
one that takes an optional image (Veo on the Gemini API). ``HostedModel`` names both; a job with
a first image goes to the first, a prompt alone to the second.

The clients are an optional extra (``pip install 'vidgen-api[providers]'``): a server that routes no
model to a host starts without them, and one that does is told at start-up what to install.
"""

from __future__ import annotations

import importlib.util
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from pydantic import SecretStr

from vidgen.core.catalog import ModelSpec
from vidgen.core.models import GenerationRequest
from vidgen.engines.base import EngineJob
from vidgen.engines.policy import Provider
from vidgen.engines.upstream import UpstreamEngine
from vidgen.errors import EngineError, FieldError

__all__ = ["HostedEngine", "HostedModel"]


@dataclass(frozen=True)
class HostedModel:
    """How one of our public models is asked of a host: the host's id of each endpoint."""

    image_to_video: str
    text_to_video: str
    #: The durations the host's schema spells as strings ("5", "8s"), or None for integers.
    duration_format: str | None = None
    #: Whether the host wants a prompt with an image too (Kling and Wan do; Veo on the Gemini
    #: API does not), so that a request without one is refused at submit, not by the host.
    requires_prompt: bool = True


class HostedEngine(UpstreamEngine):
    """An engine for one model host. Subclasses set ``host`` (who, and the variable of its key),
    ``client_module`` (the official client's import name), ``models`` and ``credential``."""

    host: ClassVar[Provider]
    client_module: ClassVar[str]
    client_package: ClassVar[str]  # its name on PyPI
    models: ClassVar[Mapping[str, HostedModel]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if "host" in cls.__dict__:
            cls.provider = cls.host.name

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
        if spec.id not in self.models:
            return f"{self.host.name} serves only {', '.join(self.models)} here"
        return None

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
        model = self.models.get(spec.id)
        if model is None:  # refused at start-up already
            return [FieldError("model", f"{spec.id} cannot be served by {self.host.name}")]
        if model.requires_prompt and not request.prompt.strip():
            return [FieldError("prompt", f"is required by {spec.id}, also with an image")]
        return []

    def secret(self) -> str:
        key = self.credential()
        if key is None:  # configuration_problem stops start-up before this
            raise EngineError(f"{self.host.credential} is not set.", name="NotConfigured")
        return key.get_secret_value()

    def model_for(self, job: EngineJob) -> HostedModel:
        model = self.models.get(job.model)
        if model is None:
            raise EngineError(
                f"{job.model} cannot be served by {self.host.name}.", name="NotSupported"
            )
        return model

    def endpoint(self, job: EngineJob) -> str:
        """The host's id of the endpoint that serves ``job``: image to video when it has a
        first image, text to video when it has a prompt alone."""
        model = self.model_for(job)
        return model.image_to_video if job.first_image is not None else model.text_to_video

    def duration(self, job: EngineJob) -> int | str:
        fmt = self.model_for(job).duration_format
        return job.duration if fmt is None else fmt.format(job.duration)
