"""Platform bootstrap: config in, components wired, outputs out (see docs/ and ../README.md)."""

import pulumi

from components.config import load_config

# Validation runs first: a bad config stops here, before any resource is registered.
cfg = load_config()

pulumi.export("contractVersion", "1.0")
pulumi.export("environment", cfg.environment)
pulumi.export("environmentClass", cfg.environment_class)
pulumi.export("location", cfg.location)
