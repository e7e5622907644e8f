"""The meter agent: measures, spools every reading on disk, and sends it to the server."""
from medidor.agent import Agent
from medidor.config import AgentConfig, ConfigError, DeviceSettings
from medidor.profiles import PROFILES, Profile, make_profile
from medidor.spool import Spool, SpoolFull, SpoolRecord

__all__ = [
    "Agent",
    "AgentConfig",
    "ConfigError",
    "DeviceSettings",
    "PROFILES",
    "Profile",
    "Spool",
    "SpoolFull",
    "SpoolRecord",
    "make_profile",
]
