"""Reading a ``multipart/form-data`` body whose text fields must really be text.

starlette's form parser decodes a text field in the form's charset (UTF-8 unless the
Content-Type names another) and, where its bytes are not valid there, silently as Latin-1
instead: a prompt sent in another encoding, or cut in the middle of a character, would be kept
garbled and the client never told. A JSON body with such bytes is refused (400); a form is
refused the same way here, naming the field.
"""

from __future__ import annotations

from contextlib import aclosing

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from vidgen.errors import FieldError, InvalidRequest

__all__ = ["read_form"]


class _TextCheckingParser(MultiPartParser):
    def on_part_end(self) -> None:
        # The part's bytes are only here, before starlette decodes them (with its fallback).
        # ``_current_part`` and ``_charset`` are starlette's own: if they move, every multipart
        # create fails its tests (tests/e2e/test_openai_dialect.py), not just this check.
        part = self._current_part
        if part.file is None:
            try:
                part.data.decode(self._charset)
            except UnicodeDecodeError as exc:
                raise InvalidRequest(
                    [FieldError(part.field_name, f"is not valid text: {exc}", as_sent=True)]
                ) from None
        super().on_part_end()


async def read_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """``request.form()`` for a multipart body, except that a text field whose bytes are not
    valid in the form's charset is an ``InvalidRequest`` naming the field as it was sent.
    A malformed body is the same 400 as ``request.form()`` answers."""
    try:
        async with aclosing(request.stream()) as stream:
            parser = _TextCheckingParser(
                request.headers, stream, max_files=max_files, max_fields=max_fields
            )
            return await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None
