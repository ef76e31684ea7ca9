"""Signed model updates over HTTP, sample collection over MQTT and retraining.

`keys` makes the Ed25519 key pair, `bundle` publishes a signed folder that any
static web server can serve, `store` keeps model versions side by side on a
device, `updater` downloads, checks and activates new bundles, `collect`
gathers the shards that devices share, and `retrain` merges them into the
base data and publishes a new bundle when the new models are not worse.
"""
