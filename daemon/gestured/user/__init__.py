"""On-device user models: recording, storage, MQTT commands, hybrid decision."""
