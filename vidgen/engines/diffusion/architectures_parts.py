"""What every architecture module builds from: the two sizes, the local tokenizer, and
schedulers made on the CPU.

Its own module so that ``architectures.py`` imports the per-family builders
(``architectures_ltx2.py``, ``architectures_hunyuan.py``) and they import these parts: no module
imports one that imports it back.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

__all__ = ["Size", "build_tokenizer", "scheduler"]

Size = Literal["tiny", "full"]
SchedulerT = TypeVar("SchedulerT")

_WORDS = (  # noqa: SIM905 (words to read, not a list to scan)
    "a the of and in on with to from at by camera slow fast zoom pan tilt push pull in out "
    "over under toward away left right up down sky sea mountain summit city street forest river "
    "light dark sunset night morning snow rain wind cloud fire water person dog cat bird car "
    "walks runs flies turns looks smiles dances waves rushes moves still motion scene shot"
).split()


def build_tokenizer(vocab_size: int = 1103, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with ``<pad>``, ``</s>`` and ``<unk>`` (ids 0, 1, 2), which is how
    T5-family tokenizers number them. Unknown words map to ``<unk>``; ids stay below
    ``vocab_size``."""
    specials = ["<pad>", "</s>", "<unk>"]
    vocab = {token: index for index, token in enumerate(specials + sorted(set(_WORDS)))}
    assert len(vocab) <= vocab_size
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))  # noqa: S106
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(  # the S106 below: token names, not secrets
        tokenizer_object=backend,
        pad_token="<pad>",  # noqa: S106
        eos_token="</s>",  # noqa: S106
        unk_token="<unk>",  # noqa: S106
        model_max_length=model_max_length,
    )


def scheduler(cls: type[SchedulerT], **config: Any) -> SchedulerT:
    """A scheduler made on the CPU, where schedulers keep their tables, whatever device the
    pipeline is built on (inside a ``meta`` device context they could not be copied there)."""
    with torch.device("cpu"):
        return cls(**config)
