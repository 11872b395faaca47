"""A generator's life outside training: its weights file, sampling many images, walks through latent
space, and export to ONNX, TorchScript and torch.export.
"""
