"""Makes plugin modules on the fly the old way, with imp (gone in 3.12)."""
import imp


def make_plugin(name, source):
    module = imp.new_module(name)
    exec(source, module.__dict__)
    return module
