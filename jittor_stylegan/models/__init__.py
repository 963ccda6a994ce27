"""The two StyleGAN families, each in one module over the shared ops: ``stylegan1``
(progressive growing, rosinality's style-based-gan-pytorch) and ``stylegan2``
(rosinality's stylegan2-pytorch)."""
