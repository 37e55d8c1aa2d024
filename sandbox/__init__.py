"""Running a job in isolation: `job.json` in, `result.json` out (see README.md).

Modules: job (the contract), config (clade.yaml `sandbox:`), api (make_backend), scheduler (the runner),
backends/{local,docker,ray}, worker (the entry point inside the isolation), runner (the host
side of the contract), monitor (the watch loop), isolation / cgroups / environment (the
protections), scheduler (GPUs and slots), doctor, fake (FakeSandbox for tests), cli.
Nothing here imports torch at module level.
"""
