"""The Python SDK for vidgen and any aimlapi-compatible video-generation API.

It imports nothing from the server: only httpx and the standard library, so it loads fast and
works against a vidgen on another machine, or against AI/ML API itself.

Example::

    from vidgen.client import Client

    client = Client()  # VIDGEN_BASE_URL (default http://127.0.0.1:8000) and VIDGEN_API_KEY
    video = client.generations.generate(
        image="summit.jpg",               # a path, bytes, a PIL image, or an https URL
        prompt="a dragon rushes toward the camera",
        aspect_ratio="16:9",
        duration=5,
        on_progress=lambda g: print(g.status, g.progress),
    )
    client.download(video, "dragon.mp4")

The same against AI/ML API (``AIMLAPI_KEY`` is read there)::

    client = Client(base_url="https://api.aimlapi.com")

Errors are typed (see ``vidgen.client.errors``): ``ValidationError`` (with ``fields``),
``AuthenticationError``, ``InsufficientCredits``, ``NotFound``, ``RateLimited``,
``GenerationFailed``, ``Timeout``, all under ``VidgenError``.
"""

from vidgen.client.aio import AsyncClient, AsyncGenerations, AsyncModels
from vidgen.client.config import (
    AIMLAPI_BASE_URL,
    DEFAULT_BASE_URL,
    DEFAULT_FRAME_RATE_MODEL,
    DEFAULT_MODEL,
    DEFAULT_PERFORMANCE_MODEL,
    DEFAULT_TEXT_MODEL,
    DEFAULT_UPSCALE_MODEL,
    DEFAULT_VIDEO_MODEL,
    Clock,
    PollPolicy,
    RetryPolicy,
)
from vidgen.client.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    DownloadError,
    FieldProblem,
    GenerationFailed,
    InsufficientCredits,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Timeout,
    ValidationError,
    VidgenError,
)
from vidgen.client.images import (
    ImageInput,
    VideoInput,
    character_to_input,
    image_to_url,
    video_to_url,
)
from vidgen.client.sync import Client, Generations, Models
from vidgen.client.types import (
    Generation,
    GenerationError,
    GenerationPage,
    Model,
    Usage,
    Video,
)

__all__ = [
    "AIMLAPI_BASE_URL",
    "DEFAULT_BASE_URL",
    "DEFAULT_FRAME_RATE_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_PERFORMANCE_MODEL",
    "DEFAULT_TEXT_MODEL",
    "DEFAULT_UPSCALE_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AsyncGenerations",
    "AsyncModels",
    "AuthenticationError",
    "Client",
    "Clock",
    "DownloadError",
    "FieldProblem",
    "Generation",
    "GenerationError",
    "GenerationFailed",
    "GenerationPage",
    "Generations",
    "ImageInput",
    "InsufficientCredits",
    "Model",
    "Models",
    "NotFound",
    "PayloadTooLarge",
    "PollPolicy",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Timeout",
    "Usage",
    "ValidationError",
    "Video",
    "VideoInput",
    "VidgenError",
    "character_to_input",
    "image_to_url",
    "video_to_url",
]
