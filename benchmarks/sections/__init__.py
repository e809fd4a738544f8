"""The report's sections, one module each: its measurement, its rows of the summary table, its details and its chart."""
