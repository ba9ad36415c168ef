"""The engine interface, for engines and plugins: ``Engine``, ``EngineJob``, ``EngineContext``,
``EngineResult``. It is defined in ``vidgen.core.engine`` (the worker and the service depend on
the interface, never on an engine); this module is where an engine imports it from."""

from vidgen.core.engine import Engine, EngineContext, EngineJob, EngineResult

__all__ = ["Engine", "EngineContext", "EngineJob", "EngineResult"]
