"""Flow parameters: set on the command line (--name=value), read in every step as
self.name."""

_TYPES = {int: "int", float: "float", str: "str", bool: "bool"}


class Parameter:
    """Parameter(name, default=None, type=None, help=None, required=False)

    The type is int, float, str or bool (from the default when not given; str without
    either). No default, or required=True, makes the parameter required."""

    def __init__(self, name, default=None, type=None, help=None, required=False):
        self.name = name
        self.default = default
        if type is None:
            type = default.__class__ if default is not None else str
        if type not in _TYPES:
            raise TypeError("Parameter %r: type %r is not one of int, float, str, bool"
                            % (name, type))
        if type is bool and default is not None and not isinstance(default, int):
            # its truth would be the default: "false" and "no" are true
            raise TypeError("Parameter %r: the default of a bool parameter is True or False, "
                            "not %r" % (name, default))
        self.type = type
        self.help = help
        self.required = bool(required) or default is None
        self.attr = None

    def __set_name__(self, owner, attr):
        self.attr = attr

    @property
    def type_name(self):
        return _TYPES[self.type]

    def default_text(self):
        """The default as mflow's command line would give it; None when required."""
        if self.required:
            return None
        d = self.default
        if self.type is bool:
            return "true" if d else "false"
        if self.type is float:
            return repr(float(d))
        return str(d)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        v = obj._mflow_read(self.name)
        if self.type is bool:
            return bool(v)
        return v

    def __set__(self, obj, value):
        raise AttributeError("parameter '%s' cannot be set: it is given on the command line "
                             "(--%s=...)" % (self.name, self.name))
