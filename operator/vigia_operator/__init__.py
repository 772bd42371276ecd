"""The Vigía operator: turns ModelDeployments into model servers and keeps them so."""
