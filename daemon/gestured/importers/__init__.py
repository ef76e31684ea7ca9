"""`gestured data import`: turn outside recordings into dataset shards.

One module per source format. Each returns validated `Samples` per family; the
command writes them with `dataset.write_shard`.
"""
