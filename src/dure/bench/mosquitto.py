"""The throw-away Mosquitto of the stream benchmark and the live tests (it lives in
``dure.services.live.mosquitto``: the demo feed starts one too)."""

from dure.services.live.mosquitto import Mosquitto, mosquitto_binary

__all__ = ["Mosquitto", "mosquitto_binary"]
