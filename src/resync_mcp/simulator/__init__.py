"""A faithful HWA REST API v2 stand-in: seeded plan, state over plan time, same wire format."""

from resync_mcp.simulator.core import Credentials, Simulator
from resync_mcp.simulator.plan import generate_plan

__all__ = ["Credentials", "Simulator", "generate_plan"]
