"""Merge methods: small pure functions over tensors, in one literal registry (see registry.py)."""

from tools.merge.methods.base import MethodSpec, Param, TensorTask
from tools.merge.methods.registry import METHODS, get_method

__all__ = ["METHODS", "MethodSpec", "Param", "TensorTask", "get_method"]
