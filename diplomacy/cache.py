"""Django's Redis cache, keeping one Redis client per connection pool.

`django.core.cache.backends.redis.RedisCacheClient.get_client()` builds a new `redis.Redis`
for every cache operation (about 125 µs each on the benchmark machine); a cached anonymous
response takes four operations (data version, entry, the throttle's read and write). The
client is a thin, thread-safe wrapper around its pool, so one per pool serves every operation.
Measured with `bench/bench.py`'s throughput rows: cached API page 1 from about 1.0× to about
1.9× of the bare app's rate (README, "Performance").
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
