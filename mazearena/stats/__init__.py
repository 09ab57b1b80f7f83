"""Pure statistics: confidence intervals, aggregate metrics, skill ratings (no mazearena imports)."""
