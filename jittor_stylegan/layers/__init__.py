"""Layers, one module per family (``stylegan1``, ``stylegan2``) plus the few both share (``common``);
``stylegan1_arch`` holds StyleGAN 1's constants and size rules without any framework import, so the
PyTorch benchmark baseline builds the same layers from it. Importing this package imports nothing."""
