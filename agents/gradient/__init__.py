"""The `gradient` strategy: layer-wise merge coefficients learnt by gradient descent on the search split (README.md)."""
