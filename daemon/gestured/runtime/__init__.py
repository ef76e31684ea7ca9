"""The daemon: configuration, frame sources, pipeline, MQTT and systemd glue."""
