//! Client-side partition assignors (range, roundrobin, sticky, cooperative-sticky).
