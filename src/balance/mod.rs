//! Server selection. One [`Balancer`] per backend per shard holds the algorithm's per-shard
//! scratch (smooth weighted round-robin's current weights, a cursor, a random generator); the
//! servers, their states and weights come from `state` at each pick, so a mutation acts on the
//! very next pick. One small file per algorithm.
