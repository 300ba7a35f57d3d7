"""/api/v1/monitoring: metric time series and the overview page's data (alerts live in their own module)."""
