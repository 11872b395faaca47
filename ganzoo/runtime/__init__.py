"""Where a run executes: devices, mixed precision, distributed data parallel and the speed options;
the only modules that know about CUDA, autocast and DDP.
"""
