"""The baseline for bench/poll_throughput.py: a bare FastAPI endpoint that returns a poll-sized
JSON body with no auth, no database and no logging. Same uvicorn settings as vidgen."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()

BODY = {
    "id": "7b0f2a5e-6c3f-4d8b-9d7e-0a1b2c3d4e5f",
    "status": "completed",
    "video": {"url": "http://127.0.0.1:8000/files/videos/x.mp4?_jwt=" + "x" * 200, "duration": 5.0},
    "duration": 5.0,
    "error": None,
    "meta": {"usage": {"credits_used": 8, "tokens_used": 8}, "engine": "preview"},
}


@app.get("/v2/video/generations")
async def poll(generation_id: str) -> dict[str, object]:
    return BODY
