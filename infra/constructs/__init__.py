"""One construct per capability: queues, function, routing, monitoring."""
