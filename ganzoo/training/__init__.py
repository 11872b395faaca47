"""Training: the run loop (``loop``), what watches it (``callbacks``, ``display``, ``outputs``,
``best``), and what keeps it safe (``checkpoints``, ``rundir``, ``runclaim``, ``replacement``,
``runlock``, ``divergence``, ``stopping``, ``statistics``). Import from the modules; this package
file stays empty so that importing one of them does not load the others."""
