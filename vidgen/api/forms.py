"""Reading a ``multipart/form-data`` body whose text fields must really be text.

starlette's form parser decodes a text field in the form's charset (UTF-8 unless the
Content-Type names another) and, where its bytes are not valid there, silently as Latin-1
instead: a prompt sent in another encoding, or cut in the middle of a character, would be kept
garbled and the client never told. A JSON body with such bytes is refused (400); a form is
refused the same way here, naming the field.

A form may also be checked between its text fields and its file, as a storage bucket checks a
presigned POST's policy before it takes the file (which comes last): an upload whose fields do
not authorize it is refused before its bytes are read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import aclosing

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from vidgen.errors import FieldError, InvalidRequest

__all__ = ["BeforeFile", "read_form"]


#: Told the text fields read so far when a file part begins; raises to refuse the file unread.
BeforeFile = Callable[[Mapping[str, str]], None]


class _TextCheckingParser(MultiPartParser):
    before_file: BeforeFile | None = None

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is not None and self.before_file is not None:
            self.before_file({name: v for name, v in self.items if isinstance(v, str)})

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


async def read_form(
    request: Request, *, max_files: int, max_fields: int, before_file: BeforeFile | None = None
) -> FormData:
    """``request.form()`` for a multipart body, except that a text field whose bytes are not
    valid in the form's charset is an ``InvalidRequest`` naming the field as it was sent, and
    that ``before_file``, when given, sees the text fields before a file part is read (to
    refuse a file before its bytes are taken). A malformed body is the same 400 as
    ``request.form()`` answers."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise InvalidRequest([FieldError("body", "must be multipart/form-data", as_sent=True)])
    try:
        async with aclosing(request.stream()) as stream:
            parser = _TextCheckingParser(
                request.headers, stream, max_files=max_files, max_fields=max_fields
            )
            parser.before_file = before_file
            return await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None
