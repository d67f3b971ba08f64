"""The agent loop: model turn → tools in the sandbox → observations back, until an outcome."""
