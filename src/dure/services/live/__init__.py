"""Live machine data: MQTT and OPC UA connectors, the sink into the store, their supervisor."""
