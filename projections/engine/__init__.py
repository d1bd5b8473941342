"""The machinery every projection shares: the runner, its checkpoints, how a rebuild reads the
store and the decoded-event cache. It names no projection and no event type."""
