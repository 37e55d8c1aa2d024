"""The `evolution` and `random` strategies: CMA-ES over layer-wise merge genomes and layer paths.

See README.md. Entry points: `agents.evolution.search.cma_proposals` (one CMA-ES run over a
`genome.Structure`, also used by the hybrid strategy), `agents.evolution.strategy.EvolutionStrategy`
and `RandomStrategy`.
"""
