"""Factor mining (ALPHAFORGE_SPEC §3-§4): generators, predictor, fitness, zoo, loop, baselines.

Entry points: :func:`engine.mining.worker.run_mining` (blocking, in-process),
:func:`engine.mining.worker.start` (background process) and
:func:`engine.mining.loop.mine` (a panel in, a zoo out: no project, no files).
"""
