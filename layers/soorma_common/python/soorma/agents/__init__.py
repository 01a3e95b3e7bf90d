"""Agent kinds: `Agent` (topic always explicit), `Worker`, `Tool`, `Planner`."""

from soorma.agent_spec import HandlerSpec
from soorma.agents.base import Agent
from soorma.agents.planner import Planner
from soorma.agents.tool import Tool
from soorma.agents.worker import Worker

__all__ = ["Agent", "HandlerSpec", "Planner", "Tool", "Worker"]
