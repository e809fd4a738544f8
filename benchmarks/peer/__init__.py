"""The comparisons: Powertools' documented SQS batch handler, as written by its documentation."""
