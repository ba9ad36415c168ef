"""Self-hosted open-weight image-to-video models, through diffusers (the ``gpu`` extra).

    models.py         the recipes: hub repository, pipeline class, steps, guidance (no torch)
    weights.py        where weights live, start-up checks, ``vidgen models pull`` (no torch)
    engine.py         the ``diffusers`` engine: one render thread per GPU, cancel, progress
    render.py         load once and keep warm, speed options, render a job (torch)
    decode.py         VAE decode streamed into the MP4 encoder (torch)
    architectures.py  the same pipelines from configs with random weights: tests, benchmarks

Nothing here imports torch until a job or a check needs it, so ``vidgen`` installs and runs
without the extra.
"""
