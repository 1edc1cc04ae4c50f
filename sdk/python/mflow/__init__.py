"""mflow's Python SDK: flows (FlowSpec, step, Parameter, current and the step decorators)
over libmflow."""
from .current import current
from .decorators import catch, compute, environment, resources, retry, step, timeout
from .flowspec import FlowSpec, MflowError
from .parameter import Parameter

__all__ = ["FlowSpec", "step", "Parameter", "current", "resources", "retry", "catch",
           "timeout", "environment", "compute", "MflowError"]
