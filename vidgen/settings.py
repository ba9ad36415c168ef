"""All of vidgen's configuration: one ``Settings`` object, read from ``VIDGEN_*`` variables.

It is built once at start-up and checked there, so a bad value stops the process with a message
that names the variable, instead of failing at the first request. The README's settings table
lists the same fields; ``tests/unit/test_settings.py`` keeps the two in step.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "LEGACY_DATA_DIR",
    "PASSTHROUGH_CREDITS_PER_SECOND",
    "MiB",
    "Settings",
    "default_data_dir",
    "user_data_dir",
]

MiB = 1024 * 1024
#: The price of a model only the aimlapi upstream knows (``aimlapi_models``): vidgen has no
#: published figure for it, so it charges a Runway Gen-4 Turbo-class rate rather than nothing.
PASSTHROUGH_CREDITS_PER_SECOND = 5
#: Where vidgen kept its data before the default became the user's data dir: relative to the
#: current directory, so each directory a command ran in had its own (empty) database.
LEGACY_DATA_DIR = Path("vidgen-data")


def user_data_dir() -> Path:
    """vidgen's directory in the user's data dir (platformdirs: ``$XDG_DATA_HOME/vidgen``, else
    ``~/.local/share/vidgen`` on Linux; the platform's own place elsewhere)."""
    return platformdirs.user_data_path("vidgen")


def default_data_dir() -> Path:
    """The data dir when none is set: ``./vidgen-data`` where one exists in the current
    directory (an existing install keeps its keys and videos), else ``user_data_dir()``, the
    same from every directory."""
    if LEGACY_DATA_DIR.is_dir():
        return LEGACY_DATA_DIR.resolve()
    return user_data_dir()


def _split_csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Settings(BaseSettings):
    """Every ``VIDGEN_*`` variable, plus ``RUNWAYML_API_SECRET`` (the name Runway's own tools
    read). Field docs are the README's descriptions."""

    model_config = SettingsConfigDict(env_prefix="VIDGEN_", extra="ignore", frozen=True)

    env: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses unsafe settings (relaxed fetch rules, no signing "
        "secret, no metrics token).",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded database, the signing secret and local videos live. "
        "Default: `./vidgen-data` if it exists in the current directory, else the user's data "
        "dir (`~/.local/share/vidgen`).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL (`postgresql+asyncpg://…` or `sqlite:///…`). Default: SQLite (WAL) at `<data_dir>/vidgen.db`.",
    )
    storage_url: str | None = Field(
        None,
        description="Where videos are kept: `file:///path` or `s3://bucket/prefix`. Default: "
        "local files under `<data_dir>/objects`.",
    )
    storage_proxy_downloads: bool = Field(
        False,
        description="Stream S3 downloads through the API (`/files/…`, with Range) instead of "
        "handing out presigned bucket URLs.",
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="S3-compatible endpoint, e.g. `http://minio:9000` (path-style addressing). "
        "Default: AWS.",
    )
    s3_public_endpoint_url: str | None = Field(
        None,
        description="The endpoint clients reach, for presigned links, when it differs from "
        "`VIDGEN_S3_ENDPOINT_URL`.",
    )
    s3_region: str | None = Field(
        None, description="The bucket's region. Default: boto3's (`AWS_REGION`, config files)."
    )
    s3_access_key_id: str | None = Field(
        None, description="Default: boto3's credential chain (`AWS_*`, instance roles)."
    )
    s3_secret_access_key: SecretStr | None = Field(
        None, description="Secret for `VIDGEN_S3_ACCESS_KEY_ID`."
    )
    s3_multipart_threshold: int = Field(
        8 * MiB,
        ge=5 * MiB,
        description="Uploads of at least this many bytes go up in parts of this size, several "
        "at once.",
    )
    public_url: str | None = Field(
        None,
        description="Base URL for links in answers, e.g. `https://video.example.com`. "
        "Default: the URL the request came in on.",
    )
    signing_secret: SecretStr | None = Field(
        None,
        description="HS256 secret for download links. Default: generated once into "
        "`<data_dir>/signing.key`.",
    )
    link_ttl_seconds: int = Field(86_400, ge=60, description="Lifetime of a download link.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bootstrap API keys (unlimited credits), for containers and "
        "tests.",
    )
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bootstrap admin keys (unlimited credits; may manage keys "
        "over HTTP and see every key's usage).",
    )
    routes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Which engine serves which model: `model=engine,model=engine`. Models not "
        "named use their catalog default (`preview`).",
    )
    model_substitutes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Models to serve in place of retired ones: `retired=substitute,…` (e.g. "
        "`gen3a_turbo=runway/gen4_turbo`). A request for a model whose route is the engine its "
        "provider retired it at is otherwise refused with a 400; with a substitute it is served, "
        "priced and stored as the substitute. Checked at start-up.",
    )
    catalog_files: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated paths of the operator's own catalog files (TOML, the shape "
        "of `vidgen/core/catalog_data/*.toml`): their entries add models, or replace built-in "
        "ones of the same id. Checked at start-up.",
    )
    aimlapi_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated model ids that the `aimlapi` engine's upstream serves and "
        "vidgen's catalog lacks (e.g. `acme/loop-2`): each is listed and routed to `aimlapi` "
        "with permissive rules (text or image to video, 1 to 30 s, the usual ratios) at "
        f"{PASSTHROUGH_CREDITS_PER_SECOND} credits a second, and the upstream checks the rest. "
        "Needs `VIDGEN_UPSTREAM_URL`; checked at start-up.",
    )
    aimlapi_read_models: bool = Field(
        False,
        description="Also read the upstream's own model list (`GET {VIDGEN_UPSTREAM_URL}/models`, "
        "aimlapi's public list, which another vidgen serves too) when a process starts, and add "
        "each video model there that vidgen's catalog lacks as `VIDGEN_AIMLAPI_MODELS` adds one. "
        "The read gives up after about 10 s (a warning in the log): the process then starts with "
        "`VIDGEN_AIMLAPI_MODELS` alone. Read again at each restart. Needs `VIDGEN_UPSTREAM_URL`.",
    )

    fetch_allow_http: bool = Field(
        False, description="Allow plain `http://` image URLs (off: https only)."
    )
    fetch_allow_private: bool = Field(
        False,
        description="Allow image URLs that resolve to loopback or private addresses. Never "
        "metadata addresses.",
    )
    fetch_connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect to a host.")
    fetch_read_timeout: float = Field(20.0, gt=0, description="Seconds between bytes received.")
    max_url_image_bytes: int = Field(16 * MiB, gt=0, description="Cap for an image fetched by URL.")
    max_data_uri_bytes: int = Field(5 * MiB, gt=0, description="Cap for a decoded data-URI image.")
    max_image_pixels: int = Field(
        40_000_000, gt=0, description="Cap on width × height of an image."
    )
    max_video_bytes: int = Field(
        64 * MiB,
        gt=0,
        description="Cap for an input video (by URL, data URI or upload); a data URI is also "
        "bounded by the body cap.",
    )
    max_video_seconds: float = Field(
        30.0, gt=0, description="Longest input video accepted, in seconds."
    )
    max_video_width: int = Field(3840, gt=0, description="Widest input video accepted, in pixels.")
    max_video_height: int = Field(
        3840, gt=0, description="Tallest input video accepted, in pixels."
    )
    max_body_bytes: int = Field(
        16 * MiB,
        gt=0,
        description="Largest request body accepted (413), but for an upload's file post, which "
        "may carry max_video_bytes plus 64 KiB.",
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="From a request's first byte to the end of its headers; also how long the "
        "rest of a body the server did not read may take after the answer. Then the "
        "connection is closed.",
    )
    idle_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="A connection with no request in progress (new, or kept alive after one) "
        "is closed after this long. Above a load balancer's own idle timeout, raise it past "
        "that one.",
    )
    min_body_bytes_per_second: int = Field(
        1024,
        gt=0,
        description="A request body must arrive at least this fast on average, after a first "
        "`VIDGEN_HEADER_TIMEOUT_SECONDS`; a slower one gets 408 and the connection closes.",
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Open connections one `vidgen serve` process holds; more are closed at "
        "once, with a warning (at most one a minute). Lowered at start to what the open-file "
        "limit allows.",
    )

    run_worker: bool = Field(True, description="Run the in-process worker pool in `vidgen serve`.")
    pg_listen: bool = Field(
        True,
        description="On PostgreSQL, wake idle workers with LISTEN/NOTIFY (turn off behind a "
        "transaction-pooling PgBouncer); polling works either way.",
    )
    shutdown_grace_seconds: float = Field(
        20.0,
        ge=0,
        description="On SIGTERM, how long running jobs may finish before they are handed back "
        "to the queue.",
    )
    worker_concurrency: int = Field(2, ge=1, description="Jobs one worker process runs at once.")
    lease_seconds: float = Field(
        30.0, gt=1, description="A claimed job's lease, renewed by heartbeats."
    )
    max_attempts: int = Field(3, ge=1, description="Claims of one job before it ends in error.")
    poll_interval: float = Field(
        1.0, gt=0, description="Seconds an idle worker waits between polls."
    )
    job_timeout_seconds: float = Field(900.0, gt=0, description="Longest one attempt may run.")
    live_poll_interval: float = Field(
        0.25,
        gt=0,
        description="Seconds between two reads of a generation by an event stream or a "
        "`Prefer: wait` create (they read the database, so they see every process's workers).",
    )
    events_keepalive_seconds: float = Field(
        15.0, gt=0, description="Seconds between keep-alive comments on an idle event stream."
    )
    rate_limit_per_minute: int = Field(
        120, ge=0, description="Creates per key per minute (0: unlimited)."
    )

    runwayml_api_secret: SecretStr | None = Field(
        None,
        # The name Runway's SDK and docs use, so an existing Runway set-up works as it is.
        validation_alias=AliasChoices("runwayml_api_secret", "RUNWAYML_API_SECRET"),
        description="Runway API key (`key_…`). When set, Runway's models are served by the "
        "`runway` engine unless `VIDGEN_ROUTES` says otherwise.",
    )
    runway_base_url: str = Field(
        "https://api.dev.runwayml.com", description="Base URL of Runway's API."
    )
    replicate_api_token: SecretStr | None = Field(
        None,
        # The names the providers' own SDKs read, so an existing set-up works as it is.
        validation_alias=AliasChoices("replicate_api_token", "REPLICATE_API_TOKEN"),
        description="Replicate API token (`r8_…`). When set, the `replicate/…` models are "
        "listed and served by the `replicate` engine.",
    )
    replicate_base_url: str = Field(
        "https://api.replicate.com", description="Base URL of Replicate's API."
    )
    fal_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("fal_key", "FAL_KEY"),
        description="fal API key. When set, the `fal/…` models are listed and served by the "
        "`fal` engine.",
    )
    fal_queue_url: str = Field("https://queue.fal.run", description="Base URL of fal's queue API.")
    fal_webhook_jwks_url: str = Field(
        "https://rest.fal.ai/.well-known/jwks.json",
        description="Where fal publishes the ED25519 public keys that sign its webhooks (read "
        "when a hook comes, kept up to 24 h).",
    )
    gemini_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("gemini_api_key", "GEMINI_API_KEY"),
        description="Gemini API key. When set, the `gemini/…` (Veo) models are listed and "
        "served by the `gemini` engine.",
    )
    gemini_base_url: str = Field(
        "https://generativelanguage.googleapis.com",
        description="Base URL of the Gemini API (outputs are downloaded from it with the key).",
    )
    upstream_url: str | None = Field(
        None,
        description="Base URL of an aimlapi-compatible gateway for the `aimlapi` engine, e.g. "
        "`https://api.aimlapi.com` or another vidgen.",
    )
    upstream_key: SecretStr | None = Field(
        None, description="API key sent to `VIDGEN_UPSTREAM_URL` as a bearer token."
    )
    upstream_poll_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds between two polls of one upstream task (Runway asks for ≥ 5).",
    )
    webhook_poll_interval: float = Field(
        30.0,
        gt=0,
        description="With `VIDGEN_PUBLIC_URL` set, seconds between two polls of a fal or "
        "Replicate job, whose webhook wakes the poll at once: a safety net for a lost hook.",
    )
    upstream_backoff_seconds: float = Field(
        1.0,
        gt=0,
        description="First delay before retrying an upstream 429/502/503/504 or connection "
        "error; it doubles (with jitter) up to 30 s, within the job's time limit.",
    )
    max_output_bytes: int = Field(
        512 * MiB, gt=0, description="Cap for a video downloaded from an upstream provider."
    )

    models_dir: Path | None = Field(
        None,
        description="Where open-weight models live, one folder per model id "
        "(`vidgen models pull` writes there). Default: `<data_dir>/models`.",
    )
    model_paths: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Weights directory per model, overriding the models dir: "
        "`model=/path,model=/path`.",
    )
    gpu_device: str = Field(
        "auto", description="Device of the diffusers engine: `auto` (CUDA if any), `cuda:1`, `cpu`."
    )
    gpu_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="Weights and compute dtype: `auto` is bfloat16 on CUDA, float32 on CPU."
    )
    gpu_offload: Literal["none", "model", "group"] = Field(
        "none",
        description="For GPUs too small for the model: `model` (whole models to the GPU in "
        "turn) or `group` (layers streamed from CPU memory; slowest, least memory).",
    )
    gpu_vae_tiling: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Decode the video in tiles (less memory, slower); `auto`: on with offload.",
    )
    gpu_attention: str = Field(
        "auto",
        description="diffusers attention backend (`native`, `_native_cudnn`, `flash`, `sage`…); "
        "`auto`: cuDNN attention on CUDA where every attention head of the model fits it (a "
        "multiple of 8 wide, up to 128), else native.",
    )
    gpu_optimize: bool = Field(
        True,
        description="On CUDA: regional `torch.compile` and fused QKV projections (same output up "
        "to bf16 noise; the first job per shape compiles). No compile with FP8 or a lossy cache.",
    )
    gpu_steps: int = Field(
        0,
        ge=0,
        description="Denoising steps instead of the model's own (0). Fewer is faster and "
        "changes the output (lossy).",
    )
    gpu_lossy_cache: Literal["none", "first-block", "taylorseer"] = Field(
        "none",
        description="Reuse transformer outputs between steps: output differs (lossy, opt-in); "
        "turns regional compile off.",
    )
    gpu_fp8: bool = Field(
        False,
        description="Store transformer weights in FP8 (half the memory; output differs: lossy, "
        "opt-in); turns regional compile off.",
    )

    metrics_token: SecretStr | None = Field(
        None,
        min_length=1,
        description="When set, `/metrics` requires `Authorization: Bearer <token>` (401 "
        "otherwise). Unset: open, which `VIDGEN_ENV=production` refuses.",
    )

    log_level: str = Field("INFO", description="Python log level.")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto",
        description="`json`: one JSON object per line; `console`: for humans; `auto`: "
        "`console` when stderr is a terminal, else `json`.",
    )

    @field_validator("api_keys", "admin_keys", "catalog_files", "aimlapi_models", mode="before")
    @classmethod
    def _parse_keys(cls, value: object) -> object:
        return _split_csv(value) if isinstance(value, str) else value

    @field_validator("routes", "model_paths", mode="before")
    @classmethod
    def _parse_routes(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        routes: dict[str, str] = {}
        for item in _split_csv(value):
            model, sep, engine = item.partition("=")
            if not sep or not model.strip() or not engine.strip():
                raise ValueError(f"expected model=engine, got {item!r}")
            routes[model.strip()] = engine.strip()
        return routes

    @field_validator("model_substitutes", mode="before")
    @classmethod
    def _parse_substitutes(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        substitutes: dict[str, str] = {}
        for item in _split_csv(value):
            model, sep, substitute = item.partition("=")
            if not sep or not model.strip() or not substitute.strip():
                raise ValueError(f"expected retired=substitute, got {item!r}")
            substitutes[model.strip()] = substitute.strip()
        return substitutes

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            unsafe = [
                name for name in ("fetch_allow_http", "fetch_allow_private") if getattr(self, name)
            ]
            if unsafe:
                raise ValueError(
                    "VIDGEN_ENV=production refuses "
                    + ", ".join(f"VIDGEN_{n.upper()}" for n in unsafe)
                )
            if self.signing_secret is None:
                raise ValueError("VIDGEN_ENV=production requires VIDGEN_SIGNING_SECRET")
            if self.metrics_token is None:
                # /metrics shows per-model queue depths and traffic: not for anyone who asks.
                raise ValueError("VIDGEN_ENV=production requires VIDGEN_METRICS_TOKEN")
        return self

    @model_validator(mode="after")
    def _check_storage(self) -> Settings:
        url = self.storage_url or ""
        if url and not url.startswith(("file://", "s3://")):
            raise ValueError(f"VIDGEN_STORAGE_URL must start with file:// or s3:// (got {url!r})")
        if url.startswith("s3://") and not url[len("s3://") :].split("/", 1)[0]:
            raise ValueError("VIDGEN_STORAGE_URL: s3:// needs a bucket, e.g. s3://videos/vidgen")
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "set both VIDGEN_S3_ACCESS_KEY_ID and VIDGEN_S3_SECRET_ACCESS_KEY, or neither"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vidgen.db').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "objects").resolve().as_uri()

    @cached_property
    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def data_dir_origin(self) -> str:
        """How the data dir was chosen, in words for messages."""
        if "data_dir" in self.model_fields_set:
            return "set by --data-dir or VIDGEN_DATA_DIR"
        if self.data_dir == LEGACY_DATA_DIR.resolve():
            return "./vidgen-data, found in the current directory"
        return "the default; --data-dir or VIDGEN_DATA_DIR choose another"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def link_secret(self) -> str:
        """The download-link secret: configured, or generated once and kept in the data dir."""
        if self.signing_secret is not None:
            return self.signing_secret.get_secret_value()
        path = self.data_dir / "signing.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes starting together must not write two different secrets.
            try:
                with path.open("x", encoding="ascii") as fh:
                    fh.write(secrets.token_urlsafe(48))
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text(encoding="ascii").strip()
