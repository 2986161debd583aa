//! Client-side partition assignors (range, roundrobin, sticky, cooperative-sticky).

pub mod java_map;
