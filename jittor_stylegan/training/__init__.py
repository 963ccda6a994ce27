"""Training, split as NVIDIA's ``training/``: the loop (``loop``), the losses (``losses``), the
augmentations of D's images (``augment``), optimizers and EMA (``optim``), checkpoint I/O (``checkpoint``),
run folders and metadata (``run_files``), and one adapter per model family (``stylegan1``; ``families``
picks one)."""
