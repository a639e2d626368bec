import depcext
import depsdist


def area_doubled(w, h):
    return depsdist.double(depcext.mul(w, h))
