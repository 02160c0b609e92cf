// Filled in by the metrics work (issue 15).
