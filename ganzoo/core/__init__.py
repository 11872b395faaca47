"""The plugin boundary, the bottom of the import graph: the interfaces a plugin implements, the
specs its hooks return, the registry they feed, the contracts its models are checked against, the
building blocks it may compose (layers, step updates, the sampling forward pass), the one options
base, and the callback protocol. Nothing here imports anything of ganzoo above it; plugins reach
it through ``ganzoo.plugin``.
"""
