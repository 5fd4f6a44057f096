enum RedisClientPlaceholder {}
