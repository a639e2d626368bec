from markdep import VALUE
