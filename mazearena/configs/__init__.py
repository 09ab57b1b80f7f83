"""The example training configs, shipped with the package: ``mazearena train --config ppo_maze9`` (by name) or
any YAML file by path."""
