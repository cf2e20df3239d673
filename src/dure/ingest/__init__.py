"""Outside data to domain records: files, image folders (later: MQTT, OPC UA, HTTP)."""
