"""Exporter from PyTorch MGIE (LLaVA-7B + MGIE edit head + InstructPix2Pix UNet) to a format-1 bundle."""
