// Filled in by the LightningCLI work (issue 16).
