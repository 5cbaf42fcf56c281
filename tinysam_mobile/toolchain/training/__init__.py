"""Training TinySAM on generated scenes with ground truth (``python -m tinysam_mobile.train``).

One job per module: :mod:`.scenes` draws procedural scenes with instance hierarchies,
:mod:`.data` turns them into batches, :mod:`.prompts` samples SAM-style prompts from the ground
truth, :mod:`.losses` holds SAM's and TinySAM's losses, :mod:`.models` shares one model's weights
across input sizes, :mod:`.objective` is the per-step loss (what DDP wraps), :mod:`.schedule` the
resolution phases and learning rate, :mod:`.checkpointing` the resumable state,
:mod:`.evaluation` the held-out full-size evaluation, :mod:`.loop` the training loop.
"""
