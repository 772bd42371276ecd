"""The operator's side of the API: a small async client and the Event recorder."""
