from cext._speedups import add
