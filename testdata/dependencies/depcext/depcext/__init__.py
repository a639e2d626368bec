from depcext._native import mul
