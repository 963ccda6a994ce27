"""Training, split as NVIDIA's ``training/``: the loop (``loop``), the losses (``losses``), the
augmentations of D's images (``augment``) and what D sees per ``--aug`` with ADA's p (``ada``),
optimizers and EMA (``optim``), checkpoint I/O (``checkpoint``), run folders and metadata
(``run_files``), and one adapter per model family (``stylegan1``; ``families`` picks one)."""
