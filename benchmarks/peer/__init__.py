"""The comparisons: Powertools' documented SQS batch handler, and what a capable engineer improves it to."""
