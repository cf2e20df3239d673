"""Live ingestion: MQTT and OPC UA sources, payload decoding, a disk spool and the pipeline
that stores every reading once and acknowledges it only after it is durable."""
